"""How many report lines an agent writes per hour (the `docker service logs` volume), on a fake
clock: one heartbeat per HEARTBEAT seconds of silence, none while other lines are written, and
the readers' stale window follows the interval each line announces."""

from __future__ import annotations

import io
import itertools
from pathlib import Path
from typing import Any

import pytest

from bench.agent_logs import FakeClock
from swarmvip.agent import run, state
from swarmvip.agent.keepalived import Layout
from swarmvip.model import NodePlan
from swarmvip.status.model import STALE_AFTER, Clocks
from swarmvip.wire.agentspec import AgentSpec
from swarmvip.wire.report import HEARTBEAT, parse_report
from tests.agent import agentlab as lab

HOUR = 3600.0


def _agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **opts: Any) -> run.Agent:
    clock = FakeClock(now=1_000_000.0)
    monkeypatch.setattr(run, "time", clock)
    node = NodePlan("id-a", "node-a", None, "10.77.0.1", (lab.instance("10.77.0.1", (), 150),))
    layout = Layout(conf=tmp_path / "k.conf", run_dir=tmp_path, secrets_dir=tmp_path)
    agent = run.Agent(AgentSpec("t", node), run.Options(layout=layout, **opts), io.StringIO())
    agent.state = state.fold(agent.state, state.InterfaceFound("eth0"))
    agent.events = clock  # type: ignore[assignment]
    return agent


def _lines(agent: run.Agent) -> list[str]:
    assert isinstance(agent.out, io.StringIO)
    return agent.out.getvalue().splitlines()


def _an_hour(agent: run.Agent) -> list[str]:
    clock = run.time
    assert isinstance(clock, FakeClock)
    agent.emit("state")  # the first line, as run() writes it
    end = clock.now + HOUR
    while clock.now < end:
        agent._wait(end)
    return _lines(agent)


def test_an_idle_agent_writes_one_heartbeat_per_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _an_hour(_agent(tmp_path, monkeypatch))
    assert HEARTBEAT >= 10.0  # was 2 s: 1800 lines per node and hour
    assert len(lines) == int(HOUR / HEARTBEAT) == 360  # the first line, then 359 beats
    reports = [parse_report(line) for line in lines]
    assert all(r is not None and r.interval == HEARTBEAT for r in reports)
    assert [r.kind for r in reports if r is not None][1:] == ["heartbeat"] * 359


def test_the_old_two_second_heartbeat_wrote_1800_lines_an_hour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(_an_hour(_agent(tmp_path, monkeypatch, heartbeat=2.0))) == 1800


def test_no_heartbeat_while_other_lines_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = _agent(tmp_path, monkeypatch)
    clock = run.time
    assert isinstance(clock, FakeClock)
    start = clock.now
    for i in range(1, 360):  # a check flaps every 10 s, just before each heartbeat is due
        clock.events.append(
            (start + i * HEARTBEAT - 0.5, state.CheckChanged("web", "c", bool(i % 2)))
        )
    lines = _an_hour(agent)
    kinds = [r.kind for line in lines if (r := parse_report(line)) is not None]
    assert kinds.count("heartbeat") <= 1 and len(lines) <= 361


def test_every_gap_between_lines_stays_inside_the_readers_stale_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = [r for line in _an_hour(_agent(tmp_path, monkeypatch)) if (r := parse_report(line))]
    for before, after in itertools.pairwise(reports):
        assert Clocks(after.ts).fresh(before)  # a live agent is never stale
        assert not Clocks(before.ts + STALE_AFTER * before.interval + 0.1).fresh(before)

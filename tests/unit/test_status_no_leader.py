"""`swarmvip status` against a manager whose swarm has no raft leader (issue 12, defect 1).

Measured on a 3-manager lab with two managers killed (bench/results/faults-analysis.md, 4):
for ~30 s every swarm call of the surviving manager, `/info` included, hangs for the engine's
20 s, while `/version` and `/_ping` answer at once; after that every swarm call fails at once
with "The swarm does not have a leader" (a 500), and `/info` carries it in `Swarm.Error`.
status used to wait its client's 10 s and say "cannot reach the Docker engine … Read timed out".
"""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from swarmvip import cli
from swarmvip.cluster import Cluster, DockerCluster
from swarmvip.cluster.status_source import ClusterSource
from swarmvip.errors import ExitCode, UnavailableError
from swarmvip.status.fold import fold

ENGINE = (
    "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too"
    " few managers are online. Make sure more than half of the managers are online."
)


class Hang:
    """A connect that blocks like a swarm call of a manager without a leader."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()

    def __call__(self) -> Cluster:
        self.calls += 1
        self.release.wait(10)
        raise UnavailableError("the Docker engine did not answer: Read timed out.")


def _answers() -> str:
    return "unix:///run/m.sock (DOCKER_HOST)"


def _down() -> str:
    raise UnavailableError("cannot reach the Docker engine at unix:///run/m.sock: refused")


def test_a_hanging_swarm_is_reported_as_no_leader_within_the_deadline() -> None:
    hang = Hang()
    source = ClusterSource(hang, deadline=0.3, ping=_answers)
    try:
        started = time.monotonic()
        snap = fold(source.observe())
        elapsed = time.monotonic() - started
    finally:
        hang.release.set()
    assert elapsed < 1.0
    assert snap.reason == "no-leader" and snap.error is not None
    assert snap.error.startswith("the swarm has no leader (its swarm API did not answer within")
    assert "engine at unix:///run/m.sock (DOCKER_HOST) does" in snap.error
    assert "VRRP alone" in snap.error and "majority of the managers" in snap.error
    assert "Read timed out" not in snap.error


def test_an_engine_that_does_not_answer_is_unavailable_not_no_leader() -> None:
    hang = Hang()
    source = ClusterSource(hang, deadline=0.2, ping=_down)
    try:
        snap = fold(source.observe())
    finally:
        hang.release.set()
    assert snap.reason == "unavailable"
    assert snap.error is not None and snap.error.startswith("cannot reach the Docker engine")


def test_a_watch_waits_for_the_hanging_worker_instead_of_starting_another() -> None:
    hang = Hang()
    source = ClusterSource(hang, follow=True, deadline=0.1, ping=_answers)
    try:
        for _ in range(3):
            assert source.observe().reason == "no-leader"
        assert hang.calls == 1  # one worker at a time touches the source's state
    finally:
        hang.release.set()
    deadline = time.monotonic() + 2
    while hang.calls == 1 and time.monotonic() < deadline:  # the worker ended: a new one
        source.observe()
        time.sleep(0.05)
    assert hang.calls == 2


def test_a_worker_that_times_out_after_the_deadline_is_diagnosed_too() -> None:
    """A watch finds the hanging worker ended with its client's "Read timed out": that is the
    same swarm without a leader, not an engine out of reach."""

    def slow() -> Cluster:
        time.sleep(0.3)
        raise UnavailableError("cannot reach the Docker engine at x: Read timed out.")

    source = ClusterSource(slow, follow=True, deadline=0.2, ping=_answers)
    assert source.observe().reason == "no-leader"  # at 0.2 s, the worker still waits
    obs = source.observe()  # the same worker, ended at 0.3 s with its timeout
    assert obs.reason == "no-leader" and obs.error is not None
    assert "Read timed out" not in obs.error


def _engine(swarm: dict[str, Any]) -> Any:
    return SimpleNamespace(
        version=lambda: {"ApiVersion": "1.41", "Version": "20.10.24"},
        info=lambda: {"Swarm": swarm},
    )


def test_a_manager_that_knows_it_has_no_leader_fails_at_connect() -> None:
    from swarmvip.errors import NoLeaderError

    cluster = DockerCluster(SimpleNamespace(api=_engine({})))  # type: ignore[arg-type]
    cluster._api = _engine({"LocalNodeState": "active", "ControlAvailable": True, "Error": ENGINE})
    with pytest.raises(NoLeaderError) as error:
        cluster.require_manager()
    assert error.value.exit_code == ExitCode.UNAVAILABLE and error.value.reason == "no-leader"
    assert str(error.value).startswith("the swarm has no leader (quorum lost")
    cluster._api = _engine({"LocalNodeState": "active", "ControlAvailable": True, "Error": ""})
    cluster.require_manager()  # a healthy manager


def test_status_json_says_no_leader_fast_and_exits_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from swarmvip.commands import wiring

    hang = Hang()
    monkeypatch.setattr(DockerCluster, "connect", lambda *a, **kw: hang())
    monkeypatch.setattr(DockerCluster, "ping", staticmethod(lambda *a, **kw: _answers()))
    monkeypatch.setattr(wiring, "STATUS_DEADLINE", 0.3)
    try:
        started = time.monotonic()
        code = cli.main(["-H", "unix:///run/m.sock", "status", "--json"])
        elapsed = time.monotonic() - started
    finally:
        hang.release.set()
    out, err = capsys.readouterr()
    assert code == ExitCode.UNAVAILABLE and elapsed < 2.0
    doc = json.loads(out)
    assert doc["schema"] == 1 and doc["reason"] == "no-leader"
    assert doc["error"].startswith("the swarm has no leader")
    assert doc["vips"] == [] and doc["alarms"] == []
    assert err.startswith("swarmvip: error: the swarm has no leader") and err.count("\n") == 1


def test_status_table_says_no_leader_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(*a: Any, **kw: Any) -> Cluster:
        from swarmvip.cluster.errors import quorum_lost

        raise quorum_lost(f"docker info: {ENGINE}")

    monkeypatch.setattr(DockerCluster, "connect", refuse)
    assert cli.main(["-H", "unix:///run/m.sock", "status"]) == ExitCode.UNAVAILABLE
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("swarmvip: error: the swarm has no leader (quorum lost")
    assert "force-new-cluster" in err

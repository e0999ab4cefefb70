"""`swarmvip events`: JSON lines and text lines from a fake source, SIGTERM and Ctrl-C end it
with exit 0 (handlers restored), a closed stdout ends it quietly."""

from __future__ import annotations

import io
import json
import os
import signal
from typing import Any

import pytest

from swarmvip import cli
from swarmvip.commands import events as command
from swarmvip.commands import wiring
from swarmvip.status.model import Observation
from swarmvip.wire.report import Report

from .builders import THREE
from .test_status import deployed, report, steady

BASE = tuple(steady(100, 110))


class ScriptedSource:
    """Returns each observation in turn; after the last one, signals this process."""

    def __init__(self, sig: int, *observations: Observation) -> None:
        self.sig, self.observations, self.closed = sig, list(observations), False

    def observe(self) -> Observation:
        if len(self.observations) == 1:
            os.kill(os.getpid(), self.sig)
            return self.observations[0]
        return self.observations.pop(0)

    def close(self) -> None:
        self.closed = True


def obs(now: float, *reports: Report) -> Observation:
    return Observation(now=now, nodes=THREE, deployed=deployed(), reports=reports)


def run(monkeypatch: pytest.MonkeyPatch, source: ScriptedSource, *argv: str) -> int:
    seen: dict[str, Any] = {}

    def status_source(target: Any, stack: str | None, follow: bool) -> ScriptedSource:
        seen["args"] = (stack, follow)
        return source

    monkeypatch.setattr(wiring, "status_source", status_source)
    monkeypatch.setattr(wiring, "endpoint", lambda args: None)
    code = cli.main(["events", "--interval", "0.01", *argv])
    assert seen["args"][1] is True  # a following source, as status --watch and the TUI
    return code


SCRIPT = (
    obs(110.2, *BASE),
    obs(111, *BASE, report("node1", 110.5, False, seq=20), report("node2", 110.58, True, seq=20)),
    Observation(now=112, error="connection refused"),
    obs(113, *BASE, report("node1", 110.5, False, seq=20), report("node2", 110.58, True, seq=20)),
)


def test_json_lines_until_sigterm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    source = ScriptedSource(signal.SIGTERM, *SCRIPT)
    assert run(monkeypatch, source, "--json", "--stack", "s") == 0
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["event"] for d in docs] == ["transition", "alarm", "unreachable", "reachable"]
    move = docs[0]
    assert (move["vip"], move["from"], move["to"], move["completes"]) == (
        "s/web",
        ["node1"],
        ["node2"],
        False,
    )
    assert abs(move["gap"] - 0.08) < 1e-6
    assert docs[1]["kind"] == "unexpected-holder" and docs[1]["subject"] == "s/web"
    assert docs[2]["error"] == "connection refused"
    assert source.closed and signal.getsignal(signal.SIGTERM) is before


def test_text_lines_until_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs in the background
    source = ScriptedSource(signal.SIGINT, *SCRIPT[:2])
    assert run(monkeypatch, source) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("transition s/web: node1 -> node2 (gap 80 ms)")
    assert "ALARM unexpected-holder s/web:" in lines[1]
    assert signal.getsignal(signal.SIGINT) is before


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no fd")


def test_a_closed_stdout_ends_the_stream_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    source = ScriptedSource(signal.SIGTERM, *SCRIPT)
    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert run(monkeypatch, source, "--json") == 0
    assert source.closed and len(source.observations) > 1  # it stopped at the first line


def test_arguments() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["events"])
    assert (args.stack, args.json, args.interval, args.func) == (
        None,
        False,
        1.0,
        command._cmd_events,
    )


PIPE_PROBE = """
import itertools, sys
sys.path.insert(0, ".")
from swarmvip import cli
from swarmvip.commands import wiring
from tests.unit.test_events_command import BASE, obs

class Flapping:  # every report fresh, then every report stale: alarms raised, cleared, ...
    def __init__(self):
        self.views = itertools.cycle([obs(110.2, *BASE), obs(130, *BASE)])
    def observe(self):
        return next(self.views)

wiring.status_source = lambda target, stack, follow: Flapping()
wiring.endpoint = lambda args: None
sys.exit(cli.main(["events", "--interval", "0.01"]))
"""


def test_a_reader_that_goes_away_ends_it_with_exit_0() -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", PIPE_PROBE],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like `swarmvip events | head -1`
    assert proc.wait(timeout=20) == 0
    assert "ALARM" in first or "cleared" in first
    assert proc.stderr.read() == ""

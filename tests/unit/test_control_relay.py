"""cluster.control.run_relay: how the sender is exec'd in the relay task (a fake engine API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from swarmvip.cluster import control

PLAN = '{"stack": "s", "index": 1, "timeout": 5.0, "steps": []}' + " " * 400  # a long argument
RESULT = '{"ok": true, "steps": []}'


@dataclass
class FakeApi:
    """Answers each exec with the next (exit code, stdout, stderr) and records its call."""

    answers: list[tuple[int, bytes, bytes]]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def containers(self, filters: dict[str, str]) -> list[dict[str, str]]:
        return [{"Id": "relay1"}]

    def exec_create(self, container: str, argv: list[str], **kw: Any) -> dict[str, str]:
        self.calls.append({"container": container, "argv": argv, **kw})
        return {"Id": str(len(self.calls))}

    def exec_start(self, exec_id: str, stream: bool, demux: bool) -> list[tuple[Any, Any]]:
        _, out, err = self.answers[int(exec_id) - 1]
        return [(out or None, err or None)]

    def exec_inspect(self, exec_id: str) -> dict[str, int]:
        return {"ExitCode": self.answers[int(exec_id) - 1][0]}


def test_the_plan_goes_in_the_argument_with_the_writers_connection_on_stdin() -> None:
    api = FakeApi([(0, RESULT.encode() + b"\n", b"")])
    assert control.run_relay(api, PLAN) == RESULT
    (call,) = api.calls
    assert call["argv"][: len(control.SEND_ARGV)] == control.SEND_ARGV
    assert call["argv"][-2] == "--plan" and call["stdin"] is True


def test_a_relay_older_than_the_plan_argument_gets_the_plan_on_stdin() -> None:
    usage = b"usage: swarmvip agent send ...\nswarmvip agent: error: unrecognized arguments: "
    api = FakeApi([(2, b"", usage + b"--plan " + b"A" * 600), (0, RESULT.encode(), b"")])
    assert control.run_relay(api, PLAN) == RESULT
    legacy = api.calls[1]
    assert legacy["argv"][:2] == ["sh", "-c"] and legacy["stdin"] is False
    assert "base64 -d | " + " ".join(control.SEND_ARGV) in legacy["argv"][2]


def test_a_relay_that_prints_nothing_is_unavailable() -> None:
    api = FakeApi([(137, b"", b"killed")])
    with pytest.raises(control.RelayUnavailable, match="exit 137"):
        control.run_relay(api, PLAN)
    assert len(api.calls) == 1

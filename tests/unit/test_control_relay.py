"""cluster.control.run_relay: how the sender is exec'd in the relay task (a fake engine API)."""

from __future__ import annotations

import base64
import socket as pysocket
import struct
import threading
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
    engines: list[pysocket.socket] = field(default_factory=list)  # attached execs' far ends

    def containers(self, filters: dict[str, str]) -> list[dict[str, str]]:
        return [{"Id": "relay1"}]

    def exec_create(self, container: str, argv: list[str], **kw: Any) -> dict[str, str]:
        self.calls.append({"container": container, "argv": argv, **kw})
        return {"Id": str(len(self.calls))}

    def exec_start(
        self, exec_id: str, stream: bool = False, demux: bool = False, socket: bool = False
    ) -> Any:
        _, out, err = self.answers[int(exec_id) - 1]
        if socket:  # an attached exec: the engine's end of a socket pair
            mine, engine = pysocket.socketpair()
            self.engines.append(engine)
            return mine
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


def _frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def _engine(api: FakeApi, index: int, heard: list[bytes]) -> threading.Thread:
    """The warm sender's side: read the plan line, answer with the exec's frames, close."""

    def serve() -> None:
        end = api.engines[index]
        got = b""
        while not got.endswith(b"\n"):
            chunk = end.recv(65536)
            if not chunk:
                break
            got += chunk
        heard.append(got)
        _, out, err = api.answers[index]
        end.sendall((_frame(1, out) if out else b"") + (_frame(2, err) if err else b""))
        end.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_warm_sender_gets_the_plan_as_its_first_stdin_line_and_no_new_exec_runs() -> None:
    api = FakeApi([(0, RESULT.encode() + b"\n", b"")])
    warm = control.WarmSender(api)
    assert api.calls[0]["argv"] == [*control.SEND_ARGV, "--stdin-plan"]
    assert api.calls[0]["stdin"] is True
    heard: list[bytes] = []
    thread = _engine(api, 0, heard)
    assert control.run_relay(api, PLAN, warm) == RESULT
    thread.join(5)
    assert base64.b64decode(heard[0].strip()).decode() == PLAN
    assert len(api.calls) == 1


def test_a_warm_sender_of_an_older_image_or_gone_leaves_the_plan_to_a_new_exec() -> None:
    usage = b"swarmvip agent: error: unrecognized arguments: --stdin-plan\n"
    api = FakeApi([(2, b"", usage), (0, RESULT.encode(), b"")])
    warm = control.WarmSender(api)
    thread = _engine(api, 0, [])
    assert control.run_relay(api, PLAN, warm) == RESULT
    thread.join(5)
    assert api.calls[1]["argv"][-2] == "--plan"
    api = FakeApi([(0, b"", b""), (0, RESULT.encode(), b"")])
    warm = control.WarmSender(api)
    api.engines[0].close()  # the relay task restarted: the connection is gone
    warm.sock.shutdown(pysocket.SHUT_WR)  # so the plan cannot be written
    assert control.run_relay(api, PLAN, warm) == RESULT
    assert api.calls[1]["argv"][-2] == "--plan"


def test_a_warm_sender_that_fails_otherwise_is_the_relays_failure() -> None:
    api = FakeApi([(137, b"", b"killed")])
    warm = control.WarmSender(api)
    thread = _engine(api, 0, [])
    with pytest.raises(control.RelayUnavailable, match="exit 137"):
        control.run_relay(api, PLAN, warm)
    thread.join(5)
    assert len(api.calls) == 1

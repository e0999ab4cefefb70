"""The relay's sender (`swarmvip agent send`) step logic, against fake agents and a fake clock."""

from __future__ import annotations

import base64
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from swarmvip.agent import sender
from swarmvip.agent.control import Identity, Runtime, decide
from swarmvip.wire.command import Reply, Seq, decode_command, encode
from swarmvip.wire.relay import (
    MovePlan,
    MoveResult,
    Step,
    Target,
    Until,
    plan_to_json,
    result_from_json,
    result_to_json,
)

KEY = b"k" * 32


@dataclass
class FakeAgent:
    me: Identity
    runtime: Runtime
    state: Callable[[Runtime, int], str] = lambda _r, _n: "BACKUP"  # (runtime, polls) -> state
    mute_for: int = 0  # datagrams lost before the first answer
    received: int = 0

    def answer(self, data: bytes) -> bytes | None:
        self.received += 1
        if self.received <= self.mute_for:
            return None
        cmd = decode_command(KEY, data)
        d = decide(self.me, self.runtime, cmd)
        self.runtime = d.runtime
        states = {g: self.state(self.runtime, self.received) for g in self.me.configured}
        reply = Reply(
            self.me.stack,
            self.me.node_id,
            cmd.seq,
            d.applied,
            dict(self.runtime.priorities),
            states,
            d.error,
        )
        return encode(KEY, reply)


@dataclass
class FakeNet:
    """Datagrams are answered at once; recv() with nothing queued lets the fake time pass."""

    agents: dict[tuple[str, int], FakeAgent]
    now: float = 0.0
    queue: list[bytes] = field(default_factory=list)
    sent: list[tuple[str, float]] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def send(self, address: str, port: int, data: bytes) -> None:
        self.sent.append((address, self.now))
        agent = self.agents.get((address, port))
        answer = None if agent is None else agent.answer(data)
        if answer is not None:
            self.queue.append(answer)

    def recv(self, timeout: float) -> bytes | None:
        if self.queue:
            return self.queue.pop(0)
        self.now += max(timeout, 0.0)
        return None


def _agent(node: str, spec: str = "s1", **kw: object) -> FakeAgent:
    me = Identity("stk", node, spec, {"web": 100})
    return FakeAgent(me, Runtime(None, {"web": 100}), **kw)  # type: ignore[arg-type]


def _target(node: str, address: str, priority: int, spec: str = "s1", port: int = 9816) -> Target:
    return Target(node, address, port, spec, {"web": priority})


def _run(net: FakeNet, plan: MovePlan) -> MoveResult:
    result = sender.run_plan(plan, KEY, net, clock=net.clock, retry=0.1)
    assert result_from_json(result_to_json(result)).ok == result.ok  # serialisable
    return result


def test_steps_use_index_and_step_and_wait_for_until() -> None:
    def master_when_lifted(runtime: Runtime, polls: int) -> str:
        return "MASTER" if runtime.priorities["web"] > 150 and polls >= 4 else "BACKUP"

    a, b = _agent("a"), _agent("b", state=master_when_lifted)
    net = FakeNet({("10.0.0.1", 9816): a, ("10.0.0.2", 9816): b})
    plan = MovePlan(
        "stk",
        42,
        (
            Step((_target("b", "10.0.0.2", 200),), Until("b", "web", "MASTER")),
            Step((_target("a", "10.0.0.1", 50),)),
        ),
    )
    result = _run(net, plan)
    assert result.ok and result.error is None and len(result.steps) == 2
    assert b.runtime.seq is not None and b.runtime.seq.to_json() == [42, 1]
    assert a.runtime.seq is not None and a.runtime.seq.to_json() == [42, 2]
    assert b.received == 4  # applied once, then polled by identical repeats every 0.1 s
    assert abs(result.steps[0].elapsed - 0.3) < 1e-9
    assert result.steps[0].replies["b"]["states"] == {"web": "MASTER"}
    assert result.steps[1].replies["a"]["priorities"] == {"web": 50}
    sent_to_b = [t for addr, t in net.sent if addr == "10.0.0.2"]
    assert sent_to_b == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_lost_datagrams_are_retried() -> None:
    b = _agent("b", mute_for=3)
    net = FakeNet({("10.0.0.2", 9816): b})
    result = _run(net, MovePlan("stk", 1, (Step((_target("b", "10.0.0.2", 200),)),)))
    assert result.ok and b.received == 4 and b.runtime.priorities == {"web": 200}


def test_a_step_times_out_without_an_answer() -> None:
    net = FakeNet({})
    plan = MovePlan("stk", 1, (Step((_target("b", "10.0.0.2", 200),)),), timeout=1.0)
    result = _run(net, plan)
    assert not result.ok and result.steps[0].errors == {"b": "no answer within 1s"}
    assert "step 1 failed" in (result.error or "")
    assert 9 <= len(net.sent) <= 11  # every ~0.1 s for 1 s


def _lift_then_lower(timeout: float = 5.0) -> tuple[FakeAgent, FakeAgent, FakeNet, MovePlan]:
    """Agents a (the holder) and b, and the plan that lifts b until MASTER, then lowers a."""
    a, b = _agent("a"), _agent("b")
    net = FakeNet({("10.0.0.1", 9816): a, ("10.0.0.2", 9816): b})
    plan = MovePlan(
        "stk",
        1,
        (
            Step((_target("b", "10.0.0.2", 200),), Until("b", "web", "MASTER")),
            Step((_target("a", "10.0.0.1", 50),)),
        ),
        timeout=timeout,
    )
    return a, b, net, plan


def test_until_not_reached_times_out_and_later_steps_do_not_run() -> None:
    a, _, net, plan = _lift_then_lower(timeout=0.5)
    result = _run(net, plan)
    assert not result.ok and len(result.steps) == 1
    assert result.steps[0].errors == {"b": "group web is BACKUP, not MASTER, after 0.5s"}
    assert a.received == 0


def test_a_refusal_stops_the_plan_at_once() -> None:
    b = _agent("b", spec="s2")
    net = FakeNet({("10.0.0.2", 9816): b})
    result = _run(net, MovePlan("stk", 1, (Step((_target("b", "10.0.0.2", 200),)),)))
    assert not result.ok and "spec" in result.steps[0].errors["b"]
    assert net.now == 0.0 and b.received == 1


def test_a_replayed_plan_is_refused_as_stale() -> None:
    b = _agent("b")
    net = FakeNet({("10.0.0.2", 9816): b})
    assert _run(net, MovePlan("stk", 5, (Step((_target("b", "10.0.0.2", 200),)),))).ok
    old = _run(net, MovePlan("stk", 4, (Step((_target("b", "10.0.0.2", 100),)),)))
    assert not old.ok and "stale seq" in old.steps[0].errors["b"]
    assert b.runtime.priorities == {"web": 200}


def test_foreign_and_late_replies_are_ignored() -> None:
    b = _agent("b")
    net = FakeNet({("10.0.0.2", 9816): b})
    stale = Reply("stk", "b", Seq(0, 9), True, {"web": 1}, {})  # an earlier step's
    net.queue += [b"junk", encode(b"x" * 32, stale), encode(KEY, stale)]
    result = _run(net, MovePlan("stk", 1, (Step((_target("b", "10.0.0.2", 200),)),)))
    assert result.ok and result.steps[0].replies["b"]["priorities"] == {"web": 200}


def test_bad_plans_are_refused_before_sending() -> None:
    net = FakeNet({})
    t = _target("b", "10.0.0.2", 200)
    for plan, why in [
        (MovePlan("stk", 1, (Step(()),)), "no targets"),
        (MovePlan("stk", 1, (Step((t, t)),)), "twice"),
        (MovePlan("stk", 1, (Step((t,), Until("c", "web")),)), "not one of its targets"),
        (MovePlan("stk", 1, (Step((_target("b", "node2", 1),)),)), "not an IP address"),
    ]:
        result = _run(net, plan)
        assert not result.ok and why in (result.error or "")
    assert net.sent == []


def test_a_plan_stops_before_its_next_datagram_once_its_writer_is_gone() -> None:
    """The writer died mid-plan (its exec connection closed): the lift it started is not
    re-sent, and the step after it (the old holder lowered) is never sent."""
    a, _, net, plan = _lift_then_lower()
    gone_after = 3  # datagrams sent while the writer lived (the until is never met)
    result = sender.run_plan(
        plan, KEY, net, clock=net.clock, retry=0.1, gone=lambda: len(net.sent) >= gone_after
    )
    assert not result.ok and len(result.steps) == 1
    assert result.steps[0].errors == {"b": sender.WRITER_GONE}
    assert [address for address, _ in net.sent] == ["10.0.0.2"] * gone_after
    assert a.received == 0 and net.now < plan.timeout


def _plan_b64(port: int, timeout: float) -> str:
    plan = MovePlan("stk", 1, (Step((_target("b", "127.0.0.1", 200, port=port),)),), timeout)
    return base64.b64encode(plan_to_json(plan).encode()).decode()


@pytest.mark.parametrize("writer_lives", [True, False])
@pytest.mark.parametrize("given", ["argument", "first stdin line"])
def test_send_with_plan_argument_stops_when_its_standard_input_ends(
    tmp_path: Path, writer_lives: bool, given: str
) -> None:
    """`send --plan` (or `--stdin-plan`, the plan as the first line of stdin): the standard
    input is the writer's exec connection. Closed (the writer died), the plan stops at once;
    open, it runs to its own end (here: no answer, timeout)."""
    key = tmp_path / "key"
    key.write_bytes(KEY)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:  # a target that never answers
        mute.bind(("127.0.0.1", 0))
        argv = [sys.executable, "-m", "swarmvip", "agent", "send", "--key-file", str(key)]
        encoded = _plan_b64(mute.getsockname()[1], timeout=3.0)
        argv += ["--plan", encoded] if given == "argument" else ["--stdin-plan"]
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdin is not None and proc.stdout is not None
        if given != "argument":
            proc.stdin.write(encoded + "\n")
            proc.stdin.flush()
        time.sleep(0.5)
        if not writer_lives:
            proc.stdin.close()
        out = proc.stdout.read()  # the result line, once the plan ends
        took = time.monotonic() - start
        proc.stdin.close()
        proc.wait(30)
    result = result_from_json(out)
    assert not result.ok and proc.returncode == 1
    if writer_lives:
        assert result.steps[0].errors == {"b": "no answer within 3s"} and took >= 3.0
    else:
        assert result.steps[0].errors == {"b": sender.WRITER_GONE} and took < 2.5


def test_a_sender_started_ahead_whose_writer_leaves_before_a_plan_sends_nothing(
    tmp_path: Path,
) -> None:
    """A refused drain closes the connection of the sender it started ahead: it exits."""
    key = tmp_path / "key"
    key.write_bytes(KEY)
    argv = [sys.executable, "-m", "swarmvip", "agent", "send", "--key-file", str(key)]
    proc = subprocess.run(
        [*argv, "--stdin-plan"], input="", capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2
    assert "no plan" in (result_from_json(proc.stdout).error or "")


def test_send_cli_prints_one_result_line_and_exits_non_zero_on_bad_input() -> None:
    argv = [sys.executable, "-m", "swarmvip", "agent", "send", "--key-file", "/nonexistent"]
    proc = subprocess.run(argv, input="{}", capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and len(proc.stdout.splitlines()) == 1
    result = result_from_json(proc.stdout)
    assert not result.ok and "bad move plan" in (result.error or "")


def test_relay_idles_until_sigterm() -> None:
    argv = [sys.executable, "-m", "swarmvip", "agent", "relay"]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None and "ready" in proc.stderr.readline()
        time.sleep(0.2)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    finally:
        proc.kill()
        proc.wait()

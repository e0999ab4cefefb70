"""The relay task: `swarmvip agent relay` (an idle PID 1) and `swarmvip agent send`.

`send` runs a planned move (wire.relay.MovePlan: `--plan` base64 JSON, or JSON on stdin)
against the agents.

Step n (1-based) sends each target its command with seq (index, n), signed with the channel
key, and re-sends every `retry` seconds to every target that has not answered `applied` yet,
and, while the step's `until` is not met, to the until node (an identical repeat is answered
with the agent's current VRRP states, not applied again). A refusal (applied false) ends the
plan at once; a step not done within the plan's timeout ends it too. The result is one
wire.relay.MoveResult.

Fencing: the writer that sent a plan holds the swarm's write lease, but an exec'd process
outlives its client: killed mid-plan, the writer would leave its plan running for up to
steps times timeout, while its successor (which takes a dead controller's lease at once) already
moves VIPs, and the stale plan's lift or settle can take a VIP back. So `send --plan` reads
the plan from its argument and keeps its standard input, the writer's exec connection, open:
end of file there means the writer is gone (its connection closed; measured: within 10 ms
of a SIGKILL), and the plan stops before its next datagram (`gone`).

The logic is written against a `Transport` and a clock, so it is tested without sockets.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from swarmvip.wire.command import (
    MAX_DATAGRAM,
    Command,
    CommandError,
    Reply,
    Seq,
    decode_reply,
    encode,
)
from swarmvip.wire.relay import MovePlan, MoveResult, Step, StepResult

RETRY = 0.1  # seconds between re-sends
WRITER_GONE = "the writer that sent the plan is gone: stopped"


def first_line(fd: int, limit: int = 1 << 20) -> bytes:
    """The bytes of file descriptor `fd` up to its first newline, read unbuffered (the writer
    sends nothing after it; the rest of `fd` is then watched by writer_watch); ValueError
    when it ends first (the writer gave up before it had a plan: a refused drain) or runs
    past `limit`."""
    got = bytearray()
    while b"\n" not in got:
        chunk = os.read(fd, 65536)
        if not chunk:
            raise ValueError("no plan: the writer closed its connection first")
        got += chunk
        if len(got) > limit:
            raise ValueError(f"no plan line within {limit} bytes")
    return bytes(got.split(b"\n", 1)[0])


def writer_watch(fd: int) -> Callable[[], bool]:
    """A `gone` for run_plan: true once file descriptor `fd` (the writer's exec connection)
    is at end of file. A daemon thread reads it with os.read (a buffered reader's lock, held
    by a daemon thread, aborts the interpreter at exit); nothing is expected on it."""
    ended = threading.Event()

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 4096):
                pass
        ended.set()

    threading.Thread(target=watch, name="writer-watch", daemon=True).start()
    return ended.is_set


class Transport(Protocol):
    def send(self, address: str, port: int, data: bytes) -> None: ...

    def recv(self, timeout: float) -> bytes | None:
        """One datagram, or None after timeout seconds."""
        ...


class UdpTransport:
    """One unbound UDP socket per address family, made on first use."""

    def __init__(self) -> None:
        self.socks: dict[int, socket.socket] = {}

    def send(self, address: str, port: int, data: bytes) -> None:
        ip = ipaddress.ip_address(address)
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        if family not in self.socks:
            self.socks[family] = socket.socket(family, socket.SOCK_DGRAM)
        with contextlib.suppress(OSError):  # unreachable for now: the next retry tries again
            self.socks[family].sendto(data, (address, port))

    def recv(self, timeout: float) -> bytes | None:
        socks = list(self.socks.values())
        if not socks:
            time.sleep(max(0.0, timeout))
            return None
        ready, _, _ = select.select(socks, [], [], max(0.0, timeout))
        for sock in ready:
            try:
                return sock.recv(MAX_DATAGRAM + 1)
            except OSError:  # e.g. ICMP port unreachable reported on the socket
                continue
        return None

    def close(self) -> None:
        for sock in self.socks.values():
            sock.close()


def check_plan(plan: MovePlan) -> str | None:
    """Why the plan cannot run, or None."""
    for n, step in enumerate(plan.steps, 1):
        ids = [t.node_id for t in step.targets]
        if not ids:
            return f"step {n} has no targets"
        if len(set(ids)) != len(ids):
            return f"step {n} names a node twice"
        if step.until is not None and step.until.node_id not in ids:
            return f"step {n}: until node {step.until.node_id} is not one of its targets"
        for t in step.targets:
            try:
                ipaddress.ip_address(t.address)
            except ValueError:
                return f"step {n}: {t.address!r} (node {t.node_id}) is not an IP address"
    if plan.timeout <= 0:
        return "timeout must be positive"
    return None


def _done(step: Step, replies: dict[str, Reply], node_id: str) -> bool:
    """This target needs no more sending: it applied, and the until (if it is for it) holds."""
    reply = replies.get(node_id)
    if reply is None or not reply.applied:
        return False
    until = step.until
    return until is None or until.node_id != node_id or reply.states.get(until.group) == until.state


def run_step(
    plan: MovePlan,
    n: int,
    key: bytes,
    transport: Transport,
    clock: Callable[[], float] = time.monotonic,
    retry: float = RETRY,
    gone: Callable[[], bool] = lambda: False,
) -> StepResult:
    step, seq = plan.steps[n - 1], Seq(plan.index, n)
    datagrams = {
        t.node_id: (
            t,
            encode(
                key,
                Command(
                    plan.stack, t.node_id, t.spec, seq, t.priorities, t.release, t.hold, t.switch
                ),
            ),
        )
        for t in step.targets
    }
    replies: dict[str, Reply] = {}
    start = clock()
    deadline, next_send = start + plan.timeout, start

    def result(done: bool, errors: dict[str, str]) -> StepResult:
        bodies = {node: reply.body() for node, reply in replies.items()}
        return StepResult(done, clock() - start, bodies, errors)

    while True:
        if all(_done(step, replies, node) for node in datagrams):
            return result(True, {})
        if gone():
            return result(False, {node: WRITER_GONE for node in datagrams})
        now = clock()
        if now >= deadline:
            return result(False, _timeouts(step, replies, datagrams, plan.timeout))
        if now >= next_send:
            for node, (target, datagram) in datagrams.items():
                if not _done(step, replies, node):
                    transport.send(target.address, target.port, datagram)
            next_send = now + retry
        data = transport.recv(min(next_send, deadline) - now)
        if data is None:
            continue
        try:
            reply = decode_reply(key, data)
        except CommandError:
            continue
        if reply.stack != plan.stack or reply.seq != seq or reply.node_id not in datagrams:
            continue  # a late answer to an earlier step, or not ours
        replies[reply.node_id] = reply
        if not reply.applied:
            return result(False, {reply.node_id: reply.error or "refused"})


def _timeouts(
    step: Step, replies: dict[str, Reply], nodes: Iterable[str], timeout: float
) -> dict[str, str]:
    errors: dict[str, str] = {}
    for node in nodes:
        if _done(step, replies, node):
            continue
        if node not in replies:
            errors[node] = f"no answer within {timeout:g}s"
        else:
            until = step.until
            assert until is not None
            seen = replies[node].states.get(until.group, "unknown")
            errors[node] = f"group {until.group} is {seen}, not {until.state}, after {timeout:g}s"
    return errors


def run_plan(
    plan: MovePlan,
    key: bytes,
    transport: Transport,
    clock: Callable[[], float] = time.monotonic,
    retry: float = RETRY,
    gone: Callable[[], bool] = lambda: False,
) -> MoveResult:
    """Run the plan's steps in order; `gone()` true (the writer is gone) stops it before its
    next datagram."""
    problem = check_plan(plan)
    if problem is not None:
        return MoveResult(False, (), f"bad move plan: {problem}")
    results: list[StepResult] = []
    for n in range(1, len(plan.steps) + 1):
        done = run_step(plan, n, key, transport, clock, retry, gone)
        results.append(done)
        if not done.done:
            why = "; ".join(f"{node}: {e}" for node, e in sorted(done.errors.items()))
            return MoveResult(False, tuple(results), f"step {n} failed: {why}")
    return MoveResult(True, tuple(results))


def relay(announce: Callable[[str], None] = lambda _m: None) -> int:
    """The relay task's PID 1: idle until SIGTERM/SIGINT (exit 0), reaping orphans meanwhile
    (an exec'd `send` is not its child, but what such a process leaves behind becomes one)."""
    wanted = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}
    signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    announce("swarmvip relay: ready; moves run as `docker exec <task> ... agent send`")
    while True:
        info = signal.sigwaitinfo(wanted)
        if info.si_signo != signal.SIGCHLD:
            return 0
        while True:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break

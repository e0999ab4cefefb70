"""The runtime priority listener: signed commands (wire.command) that set a group's priority.

keepalived's config gives every VRRP instance a `track_file <group>..priority` with weight 1
(paths.priority_track_path); keepalived adds the file's value to the configured priority and
re-reads it when it is renamed into place (inotify IN_MOVED_TO). The agent writes there the
DELTA between the wanted and the configured priority (checks.write_value: tmp + rename), so a
planned move needs no keepalived restart.

Rules (`decide`, pure):
* a command is for this agent only if its stack, node id and spec hash ($SWARMVIP_SPEC) are
  this task's, and every group it names is one of the node's; otherwise it is refused;
* its seq must be greater than the last applied one; an equal seq is a retry when it would
  change nothing (its priorities are the ones in force): answered with the current state, not
  applied again; an equal seq with other priorities, or a lower one, is refused;
* a fresh command's `release` groups that this agent holds (MASTER) are handed over with one
  priority-0 advert each (agent.release), sent by the loop before the reply; with `switch`,
  the loop also switches the clients itself (agent.arphold); its `hold` groups get their
  announcements held back before the reply (agent.arphold);
* refusals are answered (applied false, error); a datagram that does not verify (wire.command
  CommandError: bad MAC, malformed, a priority out of range) is dropped without an answer and
  counted (`drops` in the report's "control").

Persistence: every applied command is saved to `<state dir>/<stack>.json` ({seq, spec,
priorities}: fsync'ed tmp + rename) before its deltas are written. Boot rule (`boot`, before
keepalived starts): a saved file of this spec gives its priorities back; otherwise every delta
is 0 (the config's priorities) and the file is rewritten for this spec. The seq floor is always
the saved one (replay protection across restarts and redeploys).

Threads: the supervisor's loop owns all state. The listener thread (one, supervised like the
other helpers, one `select` over its sockets) only receives, verifies and answers: for an
authentic command it posts a `Request` into the loop's queue and waits (at most ANSWER_TIMEOUT)
for the loop to decide, persist, write the track files and fill in the reply; no answer in time
means none is sent (the relay retries; the retry is then recognised). No lock is needed: the
loop is the only writer of the runtime priorities, the saved file and the delta files.

The sockets are bound to the node's own VRRP source addresses (the node's and each instance's
unicast_src), never to a wildcard; the port is $SWARMVIP_CONTROL_PORT (default wire.command.PORT)
or, when another stack's agent on the host has it, the next free one up to PORT_SPAN-1 above;
the port in use is reported. No key file: no listener (an older stack), the report's "control"
is null.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swarmvip.agent import state
from swarmvip.agent.checks import write_value
from swarmvip.wire import paths
from swarmvip.wire.command import (
    MAX_DATAGRAM,
    PORT_SPAN,
    Command,
    CommandError,
    Reply,
    Seq,
    decode_command,
    encode,
    parse_priorities,
)

ANSWER_TIMEOUT = 2.0  # seconds the listener waits for the loop's answer


@dataclass(frozen=True, slots=True)
class Identity:
    """Who this agent is, as a command must name it."""

    stack: str
    node_id: str
    spec: str  # $SWARMVIP_SPEC ("" = not told: every command is refused)
    configured: Mapping[str, int]  # group -> the config's priority
    # $SWARMVIP_SERVICE_ID (Swarm fills in {{.Service.ID}}): a stack removed and deployed again
    # gets new services, so state saved on the node's volume by the old ones is not theirs
    service: str = ""


@dataclass(frozen=True, slots=True)
class Runtime:
    """The runtime priorities in force (every group) and the last applied seq."""

    seq: Seq | None
    priorities: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Decision:
    applied: bool  # the reply's `applied` (True for a recognised retry too)
    runtime: Runtime  # after the command
    changed: bool = False  # something to persist and write
    error: str | None = None


def decide(me: Identity, now: Runtime, cmd: Command) -> Decision:
    """What to do with an authentic command (pure)."""

    def refuse(why: str) -> Decision:
        return Decision(False, now, error=why)

    if cmd.stack != me.stack:
        return refuse(f"stack {cmd.stack!r} is not this agent's ({me.stack!r})")
    if cmd.node_id != me.node_id:
        return refuse(f"node {cmd.node_id!r} is not this agent's ({me.node_id!r})")
    if not me.spec or cmd.spec != me.spec:
        return refuse(f"spec {cmd.spec!r} is not the one this task runs ({me.spec or 'none'!r})")
    unknown = sorted((set(cmd.priorities) | set(cmd.release) | set(cmd.hold)) - set(me.configured))
    if unknown:
        return refuse(
            f"unknown group(s) {', '.join(unknown)} (this node has: "
            f"{', '.join(sorted(me.configured))})"
        )
    merged = {**now.priorities, **cmd.priorities}
    if now.seq is not None and cmd.seq <= now.seq:
        if cmd.seq == now.seq and merged == dict(now.priorities):
            return Decision(True, now)  # a retry: answered, not applied again
        last = now.seq.to_json()
        if cmd.seq == now.seq:
            return refuse(f"seq {last} was already applied with other priorities")
        return refuse(f"stale seq {cmd.seq.to_json()}: the last applied is {last}")
    return Decision(True, Runtime(cmd.seq, merged), changed=True)


def releases(cmd: Command, states: Mapping[str, str]) -> dict[str, str]:
    """group -> address: the releases of a freshly applied command that this agent can make
    (it holds the group: MASTER). A retry or a group it does not hold releases nothing."""
    return {g: a for g, a in cmd.release.items() if states.get(g) == "MASTER"}


def deltas(me: Identity, runtime: Runtime) -> dict[str, int]:
    """group -> what its priority track file holds: wanted - configured."""
    return {g: runtime.priorities.get(g, p) - p for g, p in me.configured.items()}


def boot(me: Identity, saved: Mapping[str, Any] | None) -> Runtime:
    """The runtime at start: the saved priorities if saved for this spec (and this service),
    else the config's;
    the saved seq either way (pure; `saved` as read by `load`)."""
    configured = dict(me.configured)
    if not saved:
        return Runtime(None, configured)
    seq = saved.get("seq")
    floor = None if seq is None else Seq.from_json(seq)
    if me.spec and saved.get("spec") == me.spec and saved.get("service", "") == me.service:
        kept = parse_priorities(saved.get("priorities", {}))
        configured.update({g: p for g, p in kept.items() if g in configured})
    return Runtime(floor, configured)


def to_doc(me: Identity, runtime: Runtime) -> dict[str, Any]:
    return {
        "seq": None if runtime.seq is None else runtime.seq.to_json(),
        "spec": me.spec,
        "service": me.service,
        "priorities": dict(sorted(runtime.priorities.items())),
    }


def load(path: Path) -> dict[str, Any] | None:
    """The saved document, None if there is none; CommandError if it is unreadable."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path}: {exc}") from None
    if not isinstance(doc, dict):
        raise CommandError(f"{path}: not a JSON object")
    return doc


def save(path: Path, doc: Mapping[str, Any]) -> None:
    """Atomically and durably replace the saved document (fsync'ed tmp + rename + dir fsync)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(doc, sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Control:
    """The runtime priorities: owned and used by the supervisor's loop thread only."""

    def __init__(self, me: Identity, state_file: Path, track_dir: Path) -> None:
        self.me, self.state_file, self.track_dir = me, state_file, track_dir
        self.runtime = Runtime(None, dict(me.configured))
        self.releases: dict[str, str] = {}  # the last handled command's, to send (agent.release)
        self.holds: dict[str, str] = {}  # the last handled command's holds (agent.arphold)
        self.switch = False  # the last handled command asks its releases to switch the clients

    def boot(self) -> Runtime:
        """The boot rule: read the saved state, write every delta file (before keepalived).

        CommandError (after the files are written) when the saved state was unusable (the
        config's priorities are used, with no seq floor) or cannot be saved again."""
        problem = None
        try:
            saved = load(self.state_file)
            self.runtime = boot(self.me, saved)
        except CommandError as exc:
            saved, problem = None, f"saved runtime priorities ignored: {exc}"
        self._write()
        if saved is not None and (
            saved.get("spec") != self.me.spec or saved.get("service", "") != self.me.service
        ):
            try:  # the floor, now for this spec: a later task of the old spec boots clean
                save(self.state_file, to_doc(self.me, self.runtime))
            except OSError as exc:
                problem = f"cannot save the runtime priorities: {exc}"
        if problem:
            raise CommandError(problem)
        return self.runtime

    def event(self) -> state.PrioritiesChanged:
        """The runtime, as the state fold's event."""
        seq = self.runtime.seq
        return state.PrioritiesChanged(
            tuple(sorted(self.runtime.priorities.items())),
            None if seq is None else (seq.index, seq.step),
        )

    def _write(self) -> None:
        for group, delta in deltas(self.me, self.runtime).items():
            write_value(Path(paths.priority_track_path(group, str(self.track_dir))), delta)

    def handle(self, cmd: Command, states: Mapping[str, str]) -> Reply:
        """Decide, persist, write the delta files; the reply to send."""
        decision = decide(self.me, self.runtime, cmd)
        applied, error = decision.applied, decision.error
        if decision.changed:
            try:
                save(self.state_file, to_doc(self.me, decision.runtime))
                before, self.runtime = self.runtime, decision.runtime
                try:
                    self._write()
                except OSError:
                    self.runtime = before
                    self._write()
                    raise
            except OSError as exc:
                applied, error = False, f"cannot apply: {exc}"
        fresh = decision.changed and applied
        self.releases = releases(cmd, states) if fresh else {}
        self.holds = dict(cmd.hold) if fresh else {}
        self.switch = fresh and cmd.switch
        return Reply(
            stack=self.me.stack,
            node_id=self.me.node_id,
            seq=cmd.seq,
            applied=applied,
            priorities=dict(self.runtime.priorities),
            states=dict(states),
            error=error,
        )


# --- the listener thread --------------------------------------------------------------------
@dataclass(slots=True)
class Request:
    """A command posted to the loop; the loop answers, the listener waits for it."""

    command: Command
    reply: Reply | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def answer(self, reply: Reply | None) -> None:
        self.reply = reply
        self.done.set()

    def wait(self, timeout: float) -> Reply | None:
        return self.reply if self.done.wait(timeout) else None


@dataclass(slots=True)
class Stats:
    drops: int = 0  # written by the (one) listener thread, read by the loop


def listen_addresses(sources: Iterable[str]) -> tuple[str, ...]:
    """The distinct VRRP source addresses, in order."""
    return tuple(dict.fromkeys(a for a in sources if a))


def bind(
    addresses: tuple[str, ...], base: int, span: int = PORT_SPAN
) -> tuple[list[socket.socket], int]:
    """UDP sockets on every address with one port: base, or the next one free on all of them
    (EADDRINUSE) up to base+span-1; any other error is raised."""
    for port in range(base, base + span):
        socks: list[socket.socket] = []
        try:
            for address in addresses:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sock = socket.socket(family, socket.SOCK_DGRAM)
                socks.append(sock)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((address, port))
            return socks, port
        except OSError as exc:
            for sock in socks:
                sock.close()
            if exc.errno != errno.EADDRINUSE:
                raise
    raise OSError(
        errno.EADDRINUSE, f"UDP ports {base}-{base + span - 1} are all in use on {addresses}"
    )


class Listener(threading.Thread):
    """Binds, then serves datagrams until it dies (the supervisor restarts it)."""

    def __init__(
        self,
        addresses: tuple[str, ...],
        port: int,
        key: bytes,
        ask: Callable[[Command], Reply | None],
        on_bound: Callable[[int | None], None],
        stats: Stats,
    ) -> None:
        super().__init__(name="control-listener", daemon=True)
        self.addresses, self.port, self.key = addresses, port, key
        self.ask, self.on_bound, self.stats = ask, on_bound, stats

    def run(self) -> None:
        socks, port = bind(self.addresses, self.port)
        if port != self.port:
            print(
                f"swarmvip agent: control port {self.port} is taken; listening on {port}",
                file=sys.stderr,
                flush=True,
            )
        try:
            self.on_bound(port)
            while True:
                ready, _, _ = select.select(socks, [], [])
                for sock in ready:
                    try:
                        data, sender = sock.recvfrom(MAX_DATAGRAM + 1)
                    except OSError:  # e.g. a queued ICMP error: nothing to read
                        continue
                    self.serve(sock, data, sender)
        finally:
            for sock in socks:
                sock.close()
            self.on_bound(None)

    def serve(self, sock: socket.socket, data: bytes, sender: Any) -> None:
        try:
            cmd = decode_command(self.key, data)
        except CommandError:
            self.stats.drops += 1
            return
        reply = self.ask(cmd)
        if reply is not None:
            # OSError: the sender is gone (it retries or gave up); CommandError: too large
            with contextlib.suppress(OSError, CommandError):
                sock.sendto(encode(self.key, reply), sender)

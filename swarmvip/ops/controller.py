"""The controller: keep every deployed swarmvip stack in step with the swarm, continuously.

observe → plan → diff → apply, for each stack whose spec `swarmvip deploy` stored in the swarm.
It wakes on node/service events, resyncs every `interval`, backs off on errors, and acts only
while it holds the swarm-wide write lease (cluster/lease.py: compare-and-swap, renewed while it
works, every write fenced), which CLI deploys, drains and `controller --once` take too: two
writers never act at once. A lease lost mid-pass stops the pass before its next write. Every
step is idempotent: killed anywhere, the next run converges from what it finds.
Applies are phased by deploy.apply_phases: new and backup nodes first, the VIP holder last.

Robustness rules:
* `docker stack rm` removes the services first and the stored spec config (it carries the stack
  namespace label) a moment later. So a stack with a stored spec but NONE of its services, or
  with services gone that this controller saw at its last look and did not remove itself, is
  left alone (VanishGuard) until it has stayed so for GRACE seconds on this controller's
  monotonic clock; by then a `docker stack rm` has removed the spec and the stack is forgotten.
  If the spec is still there after GRACE, the services were removed by hand: re-create them.
* One stack's failure (a bad spec, an agent.json of a newer schema, any unexpected error) is
  reported in last_error and the pass goes on with the next stack; the loop never dies of it.
* A status line is emitted between passes AND every ttl/3 during a pass (a heartbeat), so a
  long pass (task waits, takeovers) is not mistaken for a dead controller.

Its status source is shared with the metrics endpoint's poller (ops/metrics.py): it is wrapped
so that one thread observes at a time. `counters` (passes, errors, actions) only ever grow; the
metrics read them with `state`.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field

from swarmvip.cluster.lease import LeaseBusy
from swarmvip.cluster.port import Cluster, Connect, Watcher
from swarmvip.errors import LeaseLost, SwarmvipError
from swarmvip.ops.converge import converge
from swarmvip.ops.deploy import prefixed
from swarmvip.ops.watch import Serialized
from swarmvip.spec.stackfile import parse_stack
from swarmvip.status.model import StatusSource

REPORT_KEY = "swarmvip_controller"
MAX_BACKOFF = 60.0
RETRY = 2.0  # seconds before trying again when the lock is taken
GRACE = 60.0  # seconds a stack whose services vanished is left alone (docker stack rm)


@dataclass
class ControllerState:
    """What the controller reports (one JSON line per reconcile and per heartbeat)."""

    identity: str
    leader: bool = False
    last_reconcile: float | None = None
    last_actions: int = 0
    pending: int = 0
    last_error: str | None = None
    stacks: list[str] = field(default_factory=list)

    def line(self, now: float) -> str:
        return json.dumps(
            {REPORT_KEY: 1, "ts": round(now, 3), **asdict(self)}, separators=(",", ":")
        )


@dataclass
class Counters:
    """Totals since the controller started (for its metrics): passes, errors, actions."""

    reconciles: int = 0
    errors: int = 0  # a stack that failed in a pass, or the loop (engine trouble, lease lost)
    actions: int = 0


class VanishGuard:
    """Which stacks to leave alone because their services vanished (see the module doc)."""

    def __init__(self, grace: float = GRACE, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace, self.clock = grace, clock
        self.seen: dict[str, frozenset[str]] = {}  # service ids at this controller's last look
        self.since: dict[str, float] = {}  # when the vanishing was first noticed

    def hold(self, stack: str, ids: frozenset[str]) -> bool:
        before = self.seen.get(stack)
        if ids and (before is None or before <= ids):
            self.since.pop(stack, None)
            return False
        now = self.clock()
        if now - self.since.setdefault(stack, now) < self.grace:
            return True
        self.since.pop(stack, None)  # gone for GRACE with the spec still stored: re-create
        self.seen.pop(stack, None)
        return False

    def saw(self, stack: str, ids: frozenset[str] | None) -> None:
        """What the stack has after our own pass (None: unknown, forget the baseline)."""
        if ids is None:
            self.seen.pop(stack, None)
        else:
            self.seen[stack] = ids

    def keep_only(self, stacks: Iterable[str]) -> None:
        """Forget stacks whose spec is gone (removed for good)."""
        keep = set(stacks)
        for memory in (self.seen, self.since):
            for stack in set(memory) - keep:
                del memory[stack]


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Controller:
    """The reconcile loop over a swarm. `connect` makes its Cluster (on first use, and again
    after an error); `source` is the status source for the whole life of the controller (it
    reconnects itself)."""

    def __init__(
        self,
        connect: Connect,
        source: StatusSource,
        identity: str | None = None,
        interval: float = 30.0,
        ttl: float = 15.0,
        emit: Callable[[str], None] | None = None,
    ) -> None:
        self.connect, self.interval, self.ttl = connect, interval, ttl
        self.state = ControllerState(identity or default_identity())
        self.counters = Counters()
        self.emit = emit or (lambda line: print(line, file=sys.stdout, flush=True))
        self.wake = threading.Event()
        self.guard = VanishGuard()
        self._emitting = threading.Lock()
        self._cluster: Cluster | None = None
        self._source: StatusSource = Serialized(source)

    @property
    def source(self) -> StatusSource:
        """The status source, safe to share with another thread (the metrics' poller)."""
        return self._source

    def cluster(self) -> Cluster:
        if self._cluster is None:
            self._cluster = self.connect()
        return self._cluster

    def report(self) -> None:
        """Emit the status line (from the loop and from the heartbeat thread)."""
        with self._emitting:
            self.emit(self.state.line(time.time()))

    def once(self, wait: float = 60.0) -> int:
        """One pass holding the write lease (`controller --once`): waits up to `wait` seconds
        for another writer to finish, else LeaseBusy."""
        with self.cluster().exclusive(self.state.identity, self.ttl, wait):
            self.state.leader = True
            return self.reconcile_once()

    def reconcile_once(self, log: Callable[[str], None] | None = None) -> int:
        """One pass over every stored stack; returns the number of actions applied.
        Call it holding the lease (once/run): its writes are fenced by it."""
        say = log or (lambda line: print(f"controller: {line}", file=sys.stderr, flush=True))
        cluster = self.cluster()
        stored = cluster.stored_specs()
        self.guard.keep_only(stored)
        applied, errors, held = 0, [], 0
        for stack, (name, text) in sorted(stored.items()):
            try:
                if self.guard.hold(stack, _service_ids(cluster, stack)):
                    held += 1
                    say(
                        f"{stack}: its services vanished (docker stack rm?); left alone for"
                        f" up to {self.guard.grace:g}s"
                    )
                    continue
                spec = parse_stack(text, f"swarm config {name}")
                try:
                    applied += converge(spec, stack, cluster, self._source, prefixed(say, stack))
                finally:
                    self.guard.saw(stack, _service_ids_or_none(cluster, stack))
            except LeaseLost:
                raise  # stop the whole pass: nothing more may be written
            except SwarmvipError as exc:
                errors.append(f"{stack}: {exc}")
                say(f"{stack}: {exc}")
            except Exception as exc:  # one stack never kills the controller
                errors.append(f"{stack}: unexpected {type(exc).__name__}: {exc}")
                say(errors[-1])
        self.state.stacks = sorted(stored)
        self.state.last_reconcile = time.time()
        self.state.last_actions = applied
        self.state.pending = len(errors) + held
        self.state.last_error = "; ".join(errors) or None
        self.counters.reconciles += 1
        self.counters.errors += len(errors)
        self.counters.actions += applied
        return applied

    def _pass(self) -> bool:
        """One reconcile holding the lease; False when another writer holds it."""
        with ExitStack() as held:
            try:
                held.enter_context(self.cluster().exclusive(self.state.identity, self.ttl, 0))
            except LeaseBusy:
                self.state.leader = False
                return False
            self.state.leader = True
            self.wake.clear()
            with self._heartbeat():
                self.reconcile_once()
        return True

    @contextmanager
    def _heartbeat(self) -> Iterator[None]:
        """Report every ttl/3 while a (possibly long) pass runs."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.ttl / 3):
                self.report()

        thread = threading.Thread(target=beat, name="controller-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=1.0)

    def run(self, stop: threading.Event) -> None:
        """Until stop: lead or stand by, reconcile on events and every interval, back off."""
        backoff, next_resync = 1.0, 0.0
        watcher: Watcher | None = None
        while not stop.is_set():
            try:
                if watcher is None or not watcher.alive:
                    watcher = self.cluster().watch(self.wake)
                busy = False
                if self.wake.is_set() or time.monotonic() >= next_resync:
                    # busy: someone else (a CLI deploy, another controller) is writing
                    busy = not self._pass()
                    next_resync = time.monotonic() + (RETRY if busy else self.interval)
                self.report()
                backoff = 1.0
                if busy:  # a pending wake stays set: try again in RETRY, not at once
                    stop.wait(RETRY)
                else:
                    self.wake.wait(timeout=min(self.ttl / 3, self.interval))
            except LeaseLost as exc:
                self.state.last_error, self.state.leader = str(exc), False
                self.counters.errors += 1
                self.report()
                next_resync = time.monotonic() + RETRY
                stop.wait(RETRY)
            except Exception as exc:  # engine trouble or a bug: back off, go on
                known = isinstance(exc, SwarmvipError | OSError)
                self.state.last_error = str(exc) if known else f"{type(exc).__name__}: {exc}"
                self.state.leader = False
                self.counters.errors += 1
                self._cluster, watcher = None, None
                self.report()
                stop.wait(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)


def _service_ids(cluster: Cluster, stack: str) -> frozenset[str]:
    return frozenset(s.id for s in cluster.observe(stack).services)


def _service_ids_or_none(cluster: Cluster, stack: str) -> frozenset[str] | None:
    try:
        return _service_ids(cluster, stack)
    except SwarmvipError:
        return None

"""The controller: keep every deployed swarmvip stack in step with the swarm, continuously.

observe → plan → diff → apply, for each stack whose spec `swarmvip deploy` stored in the swarm.
It wakes on node/service events, resyncs every `interval`, backs off on errors, and acts only
while it holds the swarm-wide write lease (swarm spec labels, compare-and-swap, renewed while it
works), which CLI deploys and drains take too: two writers never act at once. Every step is
idempotent: killed anywhere, the next run converges from what it finds.
Applies are phased by deploy.apply: new and backup nodes first, the VIP holder last.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from swarmvip.cluster import Cluster
from swarmvip.cluster import lease as leases
from swarmvip.cluster.events import EventWatcher
from swarmvip.converge import converge
from swarmvip.deploy import prefixed
from swarmvip.errors import SwarmvipError
from swarmvip.stackfile import parse_stack
from swarmvip.status.source import ClusterSource

REPORT_KEY = "swarmvip_controller"
MAX_BACKOFF = 60.0
RETRY = 2.0  # seconds before trying again when the lock is taken


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


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Controller:
    def __init__(
        self,
        host: str | None = None,
        identity: str | None = None,
        interval: float = 30.0,
        ttl: float = 15.0,
        emit: Callable[[str], None] | None = None,
    ) -> None:
        self.host, self.interval, self.ttl = host, interval, ttl
        self.state = ControllerState(identity or default_identity())
        self.emit = emit or (lambda line: print(line, file=sys.stdout, flush=True))
        self.wake = threading.Event()
        self._cluster: Cluster | None = None
        self._source: ClusterSource | None = None

    def cluster(self) -> Cluster:
        if self._cluster is None:
            self._cluster = Cluster.connect(self.host)
            self._source = ClusterSource(self.host, follow=True)
        return self._cluster

    def reconcile_once(self, log: Callable[[str], None] | None = None) -> int:
        """One pass over every stored stack; returns the number of actions applied."""
        say = log or (lambda line: print(f"controller: {line}", file=sys.stderr, flush=True))
        cluster = self.cluster()
        assert self._source is not None
        stored = cluster.stored_specs()
        applied, errors = 0, []
        for stack, (name, text) in sorted(stored.items()):
            try:
                spec = parse_stack(text, f"swarm config {name}")
                applied += converge(spec, stack, cluster, self._source, prefixed(say, stack))
            except SwarmvipError as exc:
                errors.append(f"{stack}: {exc}")
                say(f"{stack}: {exc}")
        self.state.stacks = sorted(stored)
        self.state.last_reconcile = time.time()
        self.state.last_actions = applied
        self.state.pending = len(errors)
        self.state.last_error = "; ".join(errors) or None
        return applied

    def _lead(self) -> bool:
        self.state.leader = leases.acquire(self.cluster().api, self.state.identity, self.ttl)
        return self.state.leader

    def run(self, stop: threading.Event) -> None:
        """Until stop: lead or stand by, reconcile on events and every interval, back off."""
        backoff, watcher, next_resync = 1.0, None, 0.0
        while not stop.is_set():
            try:
                if watcher is None or not watcher.alive:
                    watcher = EventWatcher(self.cluster().api, self.wake).start()
                due = self.wake.is_set() or time.monotonic() >= next_resync
                if due and self._lead():
                    self.wake.clear()
                    api = self.cluster().api
                    try:
                        with leases.renewed(api, self.state.identity, self.ttl):
                            self.reconcile_once()
                    finally:
                        leases.release(api, self.state.identity)
                    next_resync = time.monotonic() + self.interval
                elif due:  # someone else (a CLI deploy, another controller) is writing
                    next_resync = time.monotonic() + RETRY
                self.emit(self.state.line(time.time()))
                backoff = 1.0
                self.wake.wait(timeout=min(self.ttl / 3, self.interval))
            except (SwarmvipError, OSError) as exc:
                self.state.last_error = str(exc)
                self.state.leader = False
                self._cluster, watcher = None, None
                self.emit(self.state.line(time.time()))
                stop.wait(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)
        if self._cluster is not None:
            leases.release(self._cluster.api, self.state.identity)

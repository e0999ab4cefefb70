"""Status sources: where an Observation comes from. The TUI and the CLI only see `observe()`.

ClusterSource reads a manager through the Cluster port it is given (commands connect it).
Reports accumulate across refreshes (bounded), so history and gaps survive between polls.
Each observe also reads the write lease once: its holder is the Observation's `writer` (a
planned change is being applied), until this source has watched its labels stay unchanged for
the lease's TTL on its own monotonic clock (a crashed writer: cluster.lease.Observer).

With a `deadline` an observe answers within it whatever the manager does: a swarm without a
raft leader (a leader election after a manager was lost, or quorum lost) leaves every swarm
call of its managers hanging for the engine's 20 s, while the engine itself (`/version`,
`/_ping`) answers at once. So when the swarm reads outlast the deadline, `ping` tells "the swarm
has no leader" (reason "no-leader") from "the engine does not answer" (reason "unavailable").
"""

from __future__ import annotations

import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from swarmvip.cluster.errors import no_leader
from swarmvip.cluster.lease import Clock, Observer
from swarmvip.cluster.observe import READ_BUDGET
from swarmvip.cluster.port import Cluster, Connect, Feed
from swarmvip.errors import SwarmvipError
from swarmvip.status.model import Agent, DeployedNode, Heard, Observation, Received
from swarmvip.wire.report import Report

KEEP_REPORTS = 5000
CONTROLLER_EVERY = 5.0
OFFSET_WINDOW = 8  # an agent's clock offset is the best of its last new lines (status.fold)


class ReportLog:
    """Reports seen so far, without duplicates, newest last, bounded: the de-duplication keys
    leave with their reports. Per agent, the clock offset its lines' arrivals show (fold.py)."""

    def __init__(self, limit: int = KEEP_REPORTS) -> None:
        self.limit = limit
        self._reports: deque[Report] = deque()
        self._seen: set[tuple[str, str, int, float]] = set()
        self._kept: dict[Agent, int] = {}  # reports kept per agent
        self._last: dict[Agent, tuple[float, int]] = {}  # newest (ts, seq) per agent
        self._offsets: dict[Agent, deque[float]] = {}  # ts - arrival of its last new lines
        self.unanswered: frozenset[Agent] = frozenset()  # streams that did not answer in time
        self.unreadable: dict[Agent, str] = {}  # streams the engine could not read: its error

    def add(self, items: Iterable[Report | Received]) -> None:
        """Add reports; a Received also tells when it arrived (a bare Report: unknown)."""
        pairs = [(i.report, i.at) if isinstance(i, Received) else (i, None) for i in items]
        for r, at in sorted(pairs, key=lambda pair: pair[0].ts):
            key = (r.stack, r.node_id, r.seq, r.ts)
            if key in self._seen:
                continue
            agent = (r.stack, r.node_id)
            newer = agent not in self._last or (r.ts, r.seq) > self._last[agent]
            self._append(r, key, agent)
            if newer:
                self._last[agent] = (r.ts, r.seq)
                if at is not None:
                    window = self._offsets.setdefault(agent, deque(maxlen=OFFSET_WINDOW))
                    window.append(r.ts - at)

    def _append(self, r: Report, key: tuple[str, str, int, float], agent: Agent) -> None:
        self._reports.append(r)
        self._seen.add(key)
        self._kept[agent] = self._kept.get(agent, 0) + 1
        while len(self._reports) > self.limit:
            old = self._reports.popleft()
            self._seen.discard((old.stack, old.node_id, old.seq, old.ts))
            gone = (old.stack, old.node_id)
            self._kept[gone] -= 1
            if not self._kept[gone]:
                for table in (self._kept, self._last, self._offsets):
                    table.pop(gone, None)

    def all(self) -> tuple[Report, ...]:
        return tuple(self._reports)

    @property
    def agents(self) -> frozenset[Agent]:
        """The agents with a report kept."""
        return frozenset(self._kept)

    @property
    def keys(self) -> int:
        """De-duplication keys held (never more than the reports kept)."""
        return len(self._seen)

    def heard(self) -> tuple[Heard, ...]:
        """Per agent: its clock offset estimate, whether its stream answered, and the engine's
        error when it could not read it."""
        agents = sorted(set(self._kept) | self.unanswered | set(self.unreadable))
        return tuple(
            Heard(
                stack,
                node_id,
                max(self._offsets[(stack, node_id)]) if (stack, node_id) in self._offsets else None,
                (stack, node_id) not in self.unanswered,
                self.unreadable.get((stack, node_id), ""),
            )
            for stack, node_id in agents
        )

    @property
    def newest(self) -> float:
        return self._reports[-1].ts if self._reports else 0.0


class ClusterSource:
    """Observe a swarm through its manager: nodes, keepalived services, agents' reports.

    `connect` makes the Cluster it reads (a connection, made on first use and again after an
    error). One-shot (follow=False) reads each service's backlog and answers within `budget`
    seconds even when a stream hangs (that node is marked unanswered). Following keeps one
    Feed for the life of the source: a reconnect rebinds it instead of starting new threads,
    and the feed is closed with the source (`close`, or when the source is garbage-collected).

    `deadline` (None: none): every observe answers within it, the reads going on in a worker
    thread; one that outlasts it is diagnosed with `ping` (the engine's own API, no swarm
    call: its description, else an UnavailableError), and the next observe waits for that
    same worker rather than starting another beside it.
    """

    def __init__(
        self,
        connect: Connect,
        stack: str | None = None,
        follow: bool = False,
        budget: float = READ_BUDGET,
        clock: Clock | None = None,
        deadline: float | None = None,
        ping: Callable[[], str] | None = None,
    ) -> None:
        self.stack, self.budget = stack, budget
        self.deadline, self._ping = deadline, ping
        self._worker: Future[Observation] | None = None
        self._worker_since = 0.0  # when the worker started (monotonic)
        self._awaited: set[Agent] = set()  # agents whose first stream's backlog was waited for
        self.lease = Observer(clock)  # who applies a change now, on our monotonic clock
        self._connect = connect
        self._cluster: Cluster | None = None
        self._feed: Feed | None = None
        self._follow = follow
        self.log = ReportLog()
        self._controller_at = -CONTROLLER_EVERY
        self._controller_last: dict[str, Any] | None = None

    def _ensure(self) -> Cluster:
        if self._cluster is None:
            self._cluster = self._connect()
            if self._follow:
                first = self._feed is None
                self._feed = self._cluster.feed(self._feed)
                if first:
                    weakref.finalize(self, self._feed.close)
        return self._cluster

    def close(self) -> None:
        """Stop following (the feed's threads end)."""
        if self._feed is not None:
            self._feed.close()
            self._feed = None

    def observe(self) -> Observation:
        if self.deadline is None:
            return self._observe()
        if self._worker is None or self._worker.done():  # never two workers on one source
            self._worker, self._worker_since = Future(), time.monotonic()
            threading.Thread(target=self._work, args=(self._worker,), daemon=True).start()
        try:
            obs = self._worker.result(timeout=self.deadline)
        except FutureTimeout:
            return self._late()
        if obs.reason == "unavailable" and time.monotonic() - self._worker_since > self.deadline:
            return self._late()  # a worker that failed past the deadline: its client timed out
        return obs

    def _work(self, result: Future[Observation]) -> None:
        try:
            result.set_result(self._observe())
        except BaseException as exc:  # _observe turns errors into an Observation: a bug
            result.set_exception(exc)

    def _late(self) -> Observation:
        """The swarm reads outlasted the deadline: whose fault, the engine's or the swarm's?"""
        waited = f"{self.deadline:g}s"
        if self._ping is None:
            return _failed(f"the manager did not answer within {waited}", "unavailable")
        try:
            where = self._ping()
        except SwarmvipError as exc:
            return _failed(f"{exc} (its swarm reads did not answer within {waited})", exc.reason)
        err = no_leader(
            f"its swarm API did not answer within {waited} although the engine at {where} does:"
            " a raft leader election (10-30 s after a manager was lost) or quorum lost; a badly"
            " overloaded manager looks the same"
        )
        return _failed(str(err), err.reason)

    def _observe(self) -> Observation:
        try:
            cluster = self._ensure()
            writer = self.lease.writer(cluster.lease_labels())
            nodes = cluster.nodes()
            deployed, ids = cluster.deployed(self.stack, incompatible=True)
            if self._feed is not None:
                self._feed.follow(ids)
                self.log.add(self._feed.drain())
                self._settle(self._feed, deployed, ids)
                controller = self._controller(cluster)
            else:
                controller = self._read_once(cluster, deployed, ids)
        except SwarmvipError as exc:
            self._cluster = None  # reconnect next time
            return _failed(str(exc), exc.reason)
        except Exception as exc:
            self._cluster = None
            return _failed(f"{type(exc).__name__}: {exc}", SwarmvipError.reason)
        return Observation(
            now=time.time(),
            nodes=nodes,
            deployed=deployed,
            reports=self.log.all(),
            controller=controller,
            heard=self.log.heard(),
            writer=writer,
        )

    def _settle(self, feed: Feed, deployed: tuple[DeployedNode, ...], ids: list[str]) -> None:
        """A stream just started delivers its backlog within a few hundred ms: wait for all of
        it (at most the budget, once per agent) rather than fold an agent that has reported as
        one that never did, which with every member so reads "no holder" (the first refresh of
        `status --watch`, the TUI, the controller), or fold the first lines of its backlog as
        its current state (a drain then saw a holder and priorities of a minute before, and
        moved nothing). An agent whose backlog is still incomplete is unanswered, as a
        one-shot read's hanging stream is: its reports are not believed yet."""
        by_id = {sid: (d.stack, d.plan.node_id) for sid, d in zip(ids, deployed, strict=True)}
        noted = {(d.stack, d.plan.node_id) for d in deployed if d.note}
        waiting = {sid for sid, a in by_id.items() if a not in self._awaited and a not in noted}
        self._awaited |= {by_id[sid] for sid in waiting}
        deadline = time.monotonic() + self.budget
        while waiting and time.monotonic() < deadline:
            waiting = {sid for sid in waiting if not feed.backlog_read(sid)}
            if waiting:
                time.sleep(0.02)
        self.log.add(feed.drain())
        self.log.unanswered = frozenset(
            agent for sid, agent in by_id.items() if not feed.backlog_read(sid)
        )

    def _read_once(
        self, cluster: Cluster, deployed: tuple[DeployedNode, ...], ids: list[str]
    ) -> dict[str, Any] | None:
        """Every stream's backlog and the controller's line, in parallel, within the budget."""
        box: queue.Queue[dict[str, Any] | None] = queue.Queue()
        deadline = time.monotonic() + self.budget + 0.2
        threading.Thread(
            target=lambda: box.put(cluster.controller_line(self.budget)), daemon=True
        ).start()
        received, silent, unreadable = cluster.read_reports(ids, self.budget)
        self.log.add(received)
        by_id = dict(zip(ids, deployed, strict=True))
        self.log.unanswered = frozenset((by_id[s].stack, by_id[s].plan.node_id) for s in silent)
        self.log.unreadable = {
            (by_id[s].stack, by_id[s].plan.node_id): why for s, why in unreadable.items()
        }
        try:
            return box.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None

    def _controller(self, cluster: Cluster) -> dict[str, Any] | None:
        """The controller's newest line, read at most every CONTROLLER_EVERY seconds."""
        now = time.monotonic()
        if now - self._controller_at >= CONTROLLER_EVERY:
            self._controller_at = now
            self._controller_last = cluster.controller_line(self.budget)
        return self._controller_last


def _failed(error: str, reason: str) -> Observation:
    return Observation(now=time.time(), error=error, reason=reason)

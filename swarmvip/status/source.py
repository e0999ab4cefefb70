"""Status sources: where an Observation comes from. The TUI and the CLI only see `observe()`.

ClusterSource reads a manager (DOCKER_HOST, including ssh://) through the cluster adapter.
Reports accumulate across refreshes (bounded), so history and gaps survive between polls.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Protocol

from swarmvip.agent.report import Report
from swarmvip.errors import SwarmvipError
from swarmvip.status.model import Observation

KEEP_REPORTS = 5000
CONTROLLER_EVERY = 5.0


class StatusSource(Protocol):
    def observe(self) -> Observation: ...


class ReportLog:
    """Reports seen so far, without duplicates, newest last, bounded."""

    def __init__(self, limit: int = KEEP_REPORTS) -> None:
        self._reports: deque[Report] = deque(maxlen=limit)
        self._seen: set[tuple[str, str, int, float]] = set()

    def add(self, reports: list[Report]) -> None:
        for r in sorted(reports, key=lambda r: r.ts):
            key = (r.stack, r.node_id, r.seq, r.ts)
            if key not in self._seen:
                self._seen.add(key)
                self._reports.append(r)

    def all(self) -> tuple[Report, ...]:
        return tuple(self._reports)

    @property
    def newest(self) -> float:
        return self._reports[-1].ts if self._reports else 0.0


class ClusterSource:
    """Observe a swarm through its manager: nodes, keepalived services, agents' reports."""

    def __init__(
        self,
        host: str | None = None,
        stack: str | None = None,
        follow: bool = False,
        timeout: float = 5.0,
    ) -> None:
        from swarmvip.cluster import Cluster
        from swarmvip.cluster.observe import ReportFeed, ServiceReader

        self.host, self.stack, self.timeout = host, stack, timeout
        self._cluster: Cluster | None = None
        self._connect = Cluster.connect
        self._reader_type, self._feed_type = ServiceReader, ReportFeed
        self._reader: ServiceReader | None = None
        self._feed: ReportFeed | None = None
        self._follow = follow
        self.log = ReportLog()
        self._controller_at = -CONTROLLER_EVERY
        self._controller_last: dict[str, Any] | None = None

    def _ensure(self) -> None:
        if self._cluster is None:
            self._cluster = self._connect(self.host, timeout=int(self.timeout) + 5)
            self._reader = self._reader_type(self._cluster.api)
            self._feed = self._feed_type(self._cluster.api) if self._follow else None

    def observe(self) -> Observation:
        from swarmvip.cluster.observe import read_reports

        try:
            self._ensure()
            assert self._cluster is not None and self._reader is not None
            nodes = self._cluster.nodes()
            deployed, ids = self._reader.deployed(self.stack)
            if self._feed is not None:
                self._feed.follow(ids)
                self.log.add(self._feed.drain())
            else:
                self.log.add(read_reports(self._cluster.api, ids, self.log.newest, self.timeout))
        except SwarmvipError as exc:
            self._cluster = None  # reconnect next time
            return Observation(now=time.time(), error=str(exc))
        except Exception as exc:
            self._cluster = None
            return Observation(now=time.time(), error=f"{type(exc).__name__}: {exc}")
        return Observation(
            now=time.time(),
            nodes=nodes,
            deployed=deployed,
            reports=self.log.all(),
            controller=self._controller(),
        )

    def _controller(self) -> dict[str, Any] | None:
        """The controller's newest line, read at most every CONTROLLER_EVERY seconds."""
        from swarmvip.cluster.observe import controller_line

        now = time.monotonic()
        if self._cluster is not None and now - self._controller_at >= CONTROLLER_EVERY:
            self._controller_at = now
            self._controller_last = controller_line(self._cluster.api)
        return self._controller_last

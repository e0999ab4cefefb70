"""The controller's Prometheus endpoint: a poller keeps the latest view, a scrape renders it.

`StatusMetrics.run` follows the controller's (shared) status source with ops/watch.py and
folds each poll into a MetricsView (present/metrics.advance); `serve` starts prometheus-client's
HTTP server on its own registry with a SnapshotCollector over that view, so a scrape never
touches the engine. Imported only when metrics are on (prometheus-client loads here).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from prometheus_client import CollectorRegistry, start_http_server

from swarmvip.ops.controller import Controller
from swarmvip.ops.watch import polls
from swarmvip.present.metrics import ControllerFacts, MetricsView, SnapshotCollector, advance
from swarmvip.status.model import StatusSource

PORT = 9815
POLL = 1.0  # seconds between status polls: a change shows within POLL + one scrape interval


def facts(controller: Controller) -> ControllerFacts:
    """The controller's own state and counters, for its metrics."""
    state, counters = controller.state, controller.counters
    return ControllerFacts(
        identity=state.identity,
        leader=state.leader,
        reconciles=counters.reconciles,
        errors=counters.errors,
        actions=counters.actions,
        pending=state.pending,
        last_reconcile=state.last_reconcile,
        failing=state.last_error is not None,
    )


class StatusMetrics:
    """The latest MetricsView: written by `run`'s thread, read by scrapes (one reference swap)."""

    def __init__(
        self,
        source: StatusSource,
        controller: Callable[[], ControllerFacts] | None = None,
        interval: float = POLL,
    ) -> None:
        self.source, self.controller, self.interval = source, controller, interval
        self._view = MetricsView()

    def view(self) -> MetricsView:
        facts = self.controller() if self.controller is not None else None
        return replace(self._view, controller=facts)

    def run(self, stop: threading.Event) -> None:
        for poll in polls(self.source, self.interval, stop):
            self._view = advance(self._view, poll.snapshot, poll.observation, poll.events)

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="metrics-poll", daemon=True)
        thread.start()
        return thread


def serve(metrics: StatusMetrics, port: int, address: str = "") -> Callable[[], None]:
    """Serve /metrics on address:port (all addresses by default) until the returned stop is
    called. OSError when the port cannot be bound."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(metrics.view, time.time))
    server, thread = start_http_server(port, address or "0.0.0.0", registry)

    def close() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2.0)

    return close

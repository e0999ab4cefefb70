"""Follow a status source: observe → fold → diff with the previous poll, every `interval`.

The loop behind `swarmvip events` and the controller's metrics; it polls as `status --watch`
and the TUI do (a following ClusterSource, fold, the next poll `interval` after the last one
ended) and, like the TUI, keeps the last good snapshot while the manager cannot be reached: a
failed poll yields that snapshot marked stale, with the error, so nothing seems to change but
reachability (status/events.py).

A following source reads the agents' backlogs in the background, so its first observations
lack reports: the first poll is yielded once every runnable node has reported (as converge
waits), or after SETTLE seconds, never with an empty view that would raise spurious alarms.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

from swarmvip.ops.converge import reported
from swarmvip.status.events import Event, diff
from swarmvip.status.fold import fold
from swarmvip.status.model import Observation, Snapshot, StatusSource

SETTLE = 3.0  # seconds the first poll waits for every node's first report
SETTLE_STEP = 0.2


@dataclass(frozen=True, slots=True)
class Poll:
    """One poll: the snapshot to show (the last good one, stale, when this poll failed), the
    observation it made, and what changed since the previous poll."""

    snapshot: Snapshot
    observation: Observation
    events: tuple[Event, ...]


class Serialized:
    """A status source several threads share (the controller's passes and its metrics): one
    observe at a time, since a following source's report log is not thread-safe."""

    def __init__(self, source: StatusSource) -> None:
        self.inner = source
        self._lock = threading.Lock()

    def observe(self) -> Observation:
        with self._lock:
            return self.inner.observe()


def observe(source: StatusSource) -> Observation:
    """source.observe(), with any exception turned into an unreachable observation."""
    try:
        return source.observe()
    except Exception as exc:  # a source must not kill its follower
        return Observation(now=time.time(), error=f"{type(exc).__name__}: {exc}")


def step(source: StatusSource, prev: Snapshot | None) -> Poll:
    """Observe once and diff the result with `prev`."""
    obs = observe(source)
    if obs.error and prev is not None:
        snap = replace(prev, stale=True, error=obs.error)
    else:
        snap = fold(obs)
    return Poll(snap, obs, diff(prev, snap, obs.now))


def polls(
    source: StatusSource, interval: float, stop: threading.Event, settle: float = SETTLE
) -> Iterator[Poll]:
    """One Poll per `interval` until `stop` is set (see the module doc for the first one)."""
    prev: Snapshot | None = None
    settled, settle_until = False, 0.0
    while not stop.is_set():
        poll = step(source, prev)
        if not settled and not poll.snapshot.error:
            settle_until = settle_until or time.monotonic() + settle
            if not reported(poll.snapshot) and time.monotonic() < settle_until:
                stop.wait(SETTLE_STEP)
                continue
            settled = True
        yield poll
        prev = poll.snapshot
        stop.wait(interval)

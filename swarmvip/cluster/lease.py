"""The swarm-wide write lease, kept in the swarm spec's labels: one swarmvip writer at a time.

Labels (wire.keys): LEADER (the holder's identity), RENEW (a counter the holder bumps on every
renewal) and TTL (how long the holder promises to go at most between renewals).

* Exclusion is a compare-and-swap: `acquire` reads the swarm spec ONCE, decides on that read,
  and writes with that read's Version. Any write in between (another candidate, a renewal)
  makes the engine refuse ours with "update out of sequence".
* Expiry never compares two machines' clocks (the Kubernetes leader-election rule): a candidate
  treats another holder's lease as expired only after it has itself watched the same
  (holder, RENEW, ...) labels stay unchanged for TTL seconds on its OWN monotonic clock. A
  candidate that first sees a held lease therefore waits TTL before taking it; an unset or
  released lease is taken at once.
* A holder known dead is not waited for: a controller task (identity hostname-pid, the
  hostname its container id) that Swarm shows ended cannot write again, so a restarted
  controller takes its lease at once (`ended_controller`) instead of after TTL: a killed
  controller used to leave every change waiting 15 s, long enough for Swarm to stop an app
  under a VIP that was about to move (fault campaign, scenario 8).
* Fencing: the holder counts its own lease as valid until TTL (less a margin) after the start
  of its last successful renewal, on its monotonic clock, i.e. before any candidate may count
  it expired. A renewal thread renews every TTL/3 and sets `lost` when the lease names another
  holder or was cleared. `check(before)` raises LeaseLost once lost or self-expired; every
  write of the Cluster goes through it, so a writer that lost the lease stops before its next
  write and says so.
* Observers (status, the TUI) read the labels the same way (`LeaseView`, `Observer`): while a
  writer holds the lease, a planned change is being applied by it; labels that stayed unchanged
  for TTL on the observer's own clock (`Watch`, the candidates' rule) name a crashed writer.
* Compatibility: EXPIRES (wall-clock expiry, read by older swarmvip versions only) is still
  written for them and never read here. Labels that do not parse (an old or damaged set) count
  as "unset counter" / "holder's TTL unknown: use ours", never as an error.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import docker

from swarmvip.cluster.errors import ENGINE_ERRORS, ConflictError, is_a
from swarmvip.errors import ClusterError, LeaseLost
from swarmvip.status.rules import TASK_ENDED
from swarmvip.wire.keys import (
    KIND_CONTROLLER,
    KIND_LABEL,
    LEASE_EXPIRES,
    LEASE_LABELS,
    LEASE_LEADER,
    LEASE_RENEW,
    LEASE_TTL,
    OWNED,
    label_filter,
)

Clock = Callable[[], float]
DEFAULT_TTL = 15.0  # the writers' default; an observer's TTL when the labels' TTL is unreadable
WALL_SKEW = 60.0  # seconds of clock skew between machines an observer tolerates (display only)


class LeaseBusy(ClusterError):
    """Another swarmvip holds the lease and did not let go in time."""


def _labels(swarm: Mapping[str, Any]) -> dict[str, str]:
    return dict(swarm.get("Spec", {}).get("Labels") or {})


def _counter(labels: Mapping[str, str]) -> int:
    text = labels.get(LEASE_RENEW, "")
    return int(text) if text.isdigit() else 0


def _ttl(labels: Mapping[str, str], default: float) -> float:
    try:
        value = float(labels.get(LEASE_TTL, ""))
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default


def holder(api: docker.APIClient) -> str | None:
    """Who the lease labels name (expired or not: only watching tells that)."""
    return _labels(api.inspect_swarm()).get(LEASE_LEADER) or None


# --- reading the lease from outside (status): pure, no engine --------------------------------
def lease_labels(swarm: Mapping[str, Any]) -> dict[str, str]:
    """The lease's labels (wire.keys.LEASE_LABELS) of an inspected swarm; {} when unset."""
    labels = _labels(swarm)
    return {k: labels[k] for k in LEASE_LABELS if k in labels}


@dataclass(frozen=True, slots=True)
class LeaseView:
    """What the lease labels say: the holder's identity, its renewal counter and its TTL."""

    holder: str | None
    renew: int
    ttl: float  # the holder's TTL (DEFAULT_TTL when unset or unreadable)

    @classmethod
    def of(cls, labels: Mapping[str, str], default_ttl: float = DEFAULT_TTL) -> LeaseView:
        return cls(labels.get(LEASE_LEADER) or None, _counter(labels), _ttl(labels, default_ttl))


class Watch:
    """The expiry rule from a watcher's side: labels that stayed the same (holder, RENEW, ...)
    for TTL seconds on the WATCHER's monotonic clock belong to a holder that stopped renewing
    (crashed). A first sighting, and any change, counts as fresh until then."""

    def __init__(self) -> None:
        self._seen: tuple[str, ...] | None = None  # the lease labels, as last observed
        self._seen_at = 0.0

    def expired(self, labels: Mapping[str, str], now: float, default_ttl: float) -> bool:
        seen = tuple(labels.get(k, "") for k in LEASE_LABELS)
        if seen != self._seen:
            self._seen, self._seen_at = seen, now
            return False
        return now - self._seen_at >= _ttl(labels, default_ttl)


class Observer:
    """A long-lived reader's view of the lease (status): who applies a change right now.

    `writer(labels)` is the holder's identity while the lease is held, None when it is unset,
    released, or expired by the rule of `Watch` on this observer's own clock."""

    def __init__(
        self,
        clock: Clock | None = None,
        default_ttl: float = DEFAULT_TTL,
        wall: Clock | None = None,
    ) -> None:
        self.clock = clock or time.monotonic
        self.wall = wall or time.time
        self.default_ttl = default_ttl
        self._watch = Watch()

    def writer(self, labels: Mapping[str, str]) -> str | None:
        view = LeaseView.of(labels, self.default_ttl)
        if view.holder is None or self._watch.expired(labels, self.clock(), view.ttl):
            return None
        if self._long_expired(labels, view.ttl):
            return None
        return view.holder

    def _long_expired(self, labels: Mapping[str, str], ttl: float) -> bool:
        """A first sighting cannot wait TTL (a one-shot `status`): labels whose wall-clock
        EXPIRES is more than a minute and a TTL past are a crashed writer's. Only what status
        SHOWS uses the wall clock (skew of a minute is tolerated); exclusion never does."""
        try:
            expires = float(labels.get(LEASE_EXPIRES, ""))
        except ValueError:
            return False
        return self.wall() > expires + ttl + WALL_SKEW


# a controller's default identity (commands: hostname-pid) inside a Swarm task: the task's
# container hostname is the container id's first 12 hex digits
_TASK_IDENTITY = re.compile(r"([0-9a-f]{12})-\d+")


def ended_controller(api: docker.APIClient, identity: str) -> bool:
    """The holder named `identity` is a controller task that Swarm shows ended (its container
    exited: killed, crashed, or stopped): it cannot renew nor write, so its lease may be taken
    at once instead of after TTL. Anything else (a CLI, a task still running or of unknown
    state, a node cut off) is not known dead: False."""
    found = _TASK_IDENTITY.fullmatch(identity)
    if found is None:
        return False
    services = api.services(filters={"label": [OWNED, label_filter(KIND_LABEL, KIND_CONTROLLER)]})
    for service in services:
        for task in api.tasks(filters={"service": service["ID"]}):
            status = task.get("Status") or {}
            container = (status.get("ContainerStatus") or {}).get("ContainerID") or ""
            if container.startswith(found.group(1)):
                return status.get("State") in TASK_ENDED
    return False


class Lease:
    """One identity's view of the lease: what it has observed, and whether it holds it.
    `ended(identity)` tells a holder known dead (ended_controller), whose lease is taken at
    once; default: none is (the TTL rule alone)."""

    def __init__(
        self,
        api: docker.APIClient,
        identity: str,
        ttl: float = 15.0,
        clock: Clock | None = None,
        ended: Callable[[str], bool] | None = None,
    ) -> None:
        self.api, self.identity, self.ttl = api, identity, ttl
        self.clock = clock or time.monotonic
        self.ended = ended or (lambda _identity: False)
        self.lost = threading.Event()
        self.lost_to = ""
        self.last_holder: str | None = None
        self._counter = -1  # the RENEW value we wrote last
        self._valid_until = -math.inf
        self._watch = Watch()  # another holder's labels, as last observed

    # --- one read, one compare-and-swap write ------------------------------------------
    def acquire(self) -> bool:
        """Take (or renew) the lease; False when someone else holds it or a write raced us."""
        started = self.clock()
        swarm = self.api.inspect_swarm()
        labels = _labels(swarm)
        current = labels.get(LEASE_LEADER) or None
        self.last_holder = current
        taken = current is not None and current != self.identity
        if taken and not self._expired(labels, started) and not self.ended(str(current)):
            return False
        if not self._write(swarm, labels, started):
            return False
        self.lost.clear()
        self.lost_to = ""
        return True

    def _expired(self, labels: Mapping[str, str], now: float) -> bool:
        return self._watch.expired(labels, now, self.ttl)

    def _write(self, swarm: Mapping[str, Any], labels: dict[str, str], started: float) -> bool:
        counter = _counter(labels) + 1
        labels.update(
            {
                LEASE_LEADER: self.identity,
                LEASE_RENEW: str(counter),
                LEASE_TTL: f"{self.ttl:g}",
                LEASE_EXPIRES: f"{time.time() + self.ttl:.3f}",
            }
        )
        if not self._cas(swarm, labels):
            return False
        self._counter, self._valid_until = counter, started + self.ttl
        return True

    def _cas(self, swarm: Mapping[str, Any], labels: dict[str, str]) -> bool:
        spec = dict(swarm["Spec"])
        spec["Labels"] = labels
        try:
            self.api.update_swarm(version=swarm["Version"]["Index"], swarm_spec=spec)
        except ENGINE_ERRORS as exc:
            if is_a(exc, ConflictError):  # someone wrote since our read: we lost this race
                return False
            raise
        return True

    # --- holding -----------------------------------------------------------------------
    def renew(self) -> bool:
        """Renew a held lease; False (and `lost` set) when it names someone else now."""
        for _ in range(3):  # a CAS conflict with an unrelated swarm update: read again
            started = self.clock()
            swarm = self.api.inspect_swarm()
            labels = _labels(swarm)
            current = labels.get(LEASE_LEADER) or None
            if current != self.identity or _counter(labels) != self._counter:
                self._lose(current or "nobody (the lease was cleared)")
                return False
            if self.lost.is_set() or self._write(swarm, labels, started):
                return not self.lost.is_set()
        return True  # still ours; the next renewal tries again, expiry fences meanwhile

    def _lose(self, to: str) -> None:
        if not self.lost.is_set():
            self.lost_to = to
            self.lost.set()

    def expire_if_due(self) -> None:
        """Count the lease lost once it was not renewed for ttl (less a margin for a write in
        flight), i.e. before any candidate may count it expired."""
        if self.clock() >= self._valid_until - self.ttl / 5:
            self._lose(f"expiry (not renewed within {self.ttl:g}s)")

    def check(self, before: str) -> None:
        """Fencing: raise LeaseLost instead of letting a write go out without the lease."""
        self.expire_if_due()
        if self.lost.is_set():
            raise LeaseLost(
                f"lost the swarmvip write lease to {self.lost_to}; stopped before {before}"
            )

    def release(self) -> None:
        """Clear the labels if they still name us (CAS; retried on an unrelated write)."""
        for _ in range(3):
            swarm = self.api.inspect_swarm()
            labels = _labels(swarm)
            if labels.get(LEASE_LEADER) != self.identity:
                return
            for key in LEASE_LABELS:
                labels.pop(key, None)
            if self._cas(swarm, labels):
                self._valid_until = -math.inf
                return

    @contextmanager
    def renewing(self) -> Iterator[Lease]:
        """Renew every ttl/3 in a thread while the body runs; release at the end."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.ttl / 3) and not self.lost.is_set():
                try:
                    self.renew()
                except Exception:  # engine trouble: retry; expiry fences meanwhile
                    self.expire_if_due()

        thread = threading.Thread(target=loop, name="lease-renewal", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=1.0)


def take(held: Lease, wait: float, sleep: Callable[[float], None] | None = None) -> None:
    """Acquire within `wait` seconds (at least one try), or raise LeaseBusy."""
    pause = sleep or time.sleep
    deadline = held.clock() + wait
    while not held.acquire():
        if held.clock() >= deadline:
            raise LeaseBusy(
                f"another swarmvip ({held.last_holder}) is changing this swarm; "
                "try again when it is done"
            )
        pause(min(0.5, max(0.0, deadline - held.clock())) or 0.01)


@contextmanager
def exclusive(
    api: docker.APIClient, identity: str, ttl: float = 15.0, wait: float = 60.0
) -> Iterator[Lease]:
    """Hold the lease for the body (renewed meanwhile), so every other writer stands by."""
    held = Lease(api, identity, ttl)
    take(held, wait)
    try:
        with held.renewing():
            yield held
    finally:
        held.release()

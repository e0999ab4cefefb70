"""A leader lease kept in the swarm's own spec labels, so two controllers never act at once.

Compare-and-swap: every write carries the swarm spec's Version, and a concurrent write fails
with "update out of sequence". A holder renews before `ttl` runs out; a crashed holder's lease
simply expires.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import docker
import docker.errors

from swarmvip.errors import ClusterError

LEADER = "swarmvip.controller.leader"
EXPIRES = "swarmvip.controller.expires"


def _write(api: docker.APIClient, labels: dict[str, str | None]) -> bool:
    swarm = api.inspect_swarm()
    spec = dict(swarm["Spec"])
    current = dict(spec.get("Labels") or {})
    for key, value in labels.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    spec["Labels"] = current
    try:
        api.update_swarm(version=swarm["Version"]["Index"], swarm_spec=spec)
    except docker.errors.APIError as exc:
        if "out of sequence" in str(exc):
            return False
        raise
    return True


def holder(api: docker.APIClient, now: float | None = None) -> str | None:
    """Who holds an unexpired lease, if anyone."""
    labels = api.inspect_swarm()["Spec"].get("Labels") or {}
    expires = float(labels.get(EXPIRES, "0") or 0)
    now = time.time() if now is None else now
    return labels.get(LEADER) if expires > now else None


def acquire(api: docker.APIClient, identity: str, ttl: float) -> bool:
    """Take or renew the lease; False when another unexpired holder has it."""
    current = holder(api)
    if current not in (None, identity):
        return False
    if not _write(api, {LEADER: identity, EXPIRES: f"{time.time() + ttl:.3f}"}):
        return False
    return holder(api) == identity


def release(api: docker.APIClient, identity: str) -> None:
    if holder(api) == identity:
        _write(api, {LEADER: None, EXPIRES: None})


@contextmanager
def renewed(api: docker.APIClient, identity: str, ttl: float) -> Iterator[None]:
    """Keep renewing a held lease (every ttl/3) while the body runs, e.g. a long reconcile."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl / 3):
            with suppress(docker.errors.DockerException):
                acquire(api, identity, ttl)

    thread = threading.Thread(target=renew, name="lease-renewal", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


@contextmanager
def exclusive(
    api: docker.APIClient, identity: str, ttl: float = 15.0, wait: float = 60.0
) -> Iterator[None]:
    """Hold the lease for the body (a CLI deploy or drain), so the controller stands by."""
    deadline = time.monotonic() + wait
    while not acquire(api, identity, ttl):
        if time.monotonic() > deadline:
            raise ClusterError(
                f"another swarmvip ({holder(api)}) is changing this swarm; "
                "try again when it is done"
            )
        time.sleep(0.5)
    try:
        with renewed(api, identity, ttl):
            yield
    finally:
        release(api, identity)

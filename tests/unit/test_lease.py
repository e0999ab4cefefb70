"""The write lease: compare-and-swap on the swarm spec's version, so two writers never act."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from swarmvip.cluster import lease
from swarmvip.errors import ClusterError


class FakeSwarm:
    """inspect_swarm/update_swarm with the engine's optimistic concurrency."""

    def __init__(self) -> None:
        self.version, self.labels = 1, {}  # type: ignore[var-annotated]
        self.stale_writes = 0

    def inspect_swarm(self) -> dict[str, Any]:
        return {"Version": {"Index": self.version}, "Spec": {"Labels": dict(self.labels)}}

    def update_swarm(self, version: int, swarm_spec: dict[str, Any]) -> None:
        if version != self.version:
            self.stale_writes += 1
            raise docker.errors.APIError("rpc error: update out of sequence")
        self.version += 1
        self.labels = dict(swarm_spec["Labels"])


def test_one_holder_at_a_time_until_release_or_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeSwarm()
    assert lease.acquire(api, "ctl-a", ttl=15)  # type: ignore[arg-type]
    assert not lease.acquire(api, "ctl-b", ttl=15)  # type: ignore[arg-type]
    assert lease.acquire(api, "ctl-a", ttl=15)  # renewal  # type: ignore[arg-type]
    lease.release(api, "ctl-a")  # type: ignore[arg-type]
    assert lease.acquire(api, "ctl-b", ttl=15)  # type: ignore[arg-type]
    now = lease.time.time()
    monkeypatch.setattr(lease.time, "time", lambda: now + 20)  # ctl-b crashed: lease expired
    assert lease.acquire(api, "ctl-a", ttl=15)  # type: ignore[arg-type]


def test_a_concurrent_write_loses_the_race() -> None:
    api = FakeSwarm()
    seen = api.inspect_swarm()
    assert lease.acquire(api, "ctl-a", ttl=15)  # type: ignore[arg-type]
    with pytest.raises(docker.errors.APIError):
        api.update_swarm(seen["Version"]["Index"], {"Labels": {lease.LEADER: "ctl-b"}})
    assert lease.holder(api) == "ctl-a"  # type: ignore[arg-type]


def test_exclusive_gives_up_with_a_clear_error() -> None:
    api = FakeSwarm()
    assert lease.acquire(api, "controller", ttl=60)  # type: ignore[arg-type]
    busy = lease.exclusive(api, "deploy", ttl=15, wait=0.2)  # type: ignore[arg-type]
    with pytest.raises(ClusterError, match=r"another swarmvip \(controller\)"), busy:
        pass

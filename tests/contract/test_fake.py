"""What only the fake can show: injected "out of sequence" writes, retried as on an engine."""

from __future__ import annotations

import pytest

from swarmvip.cluster.errors import ConflictError
from swarmvip.errors import LeaseLost
from swarmvip.model import Node, Role
from swarmvip.plan.diff import EnsureControl

from .fake import FakeCluster
from .test_cluster_contract import Backend, _deploy, _desired

NODE = Node("fakenode1xxxxxxxxxxxxxxxx", "node1", Role.MANAGER, "active", "ready", "10.0.0.11")


def test_node_updates_retry_a_few_conflicts_and_report_a_persistent_one() -> None:
    fake = FakeCluster([NODE])
    fake.conflicts = 3
    fake.update_node("node1", labels={"vip": "true"})
    assert dict(fake.nodes()[0].labels) == {"vip": "true"} and fake.conflicts == 0
    fake.conflicts = 5
    with pytest.raises(ConflictError, match=r"updating node node1: .*out of sequence"):
        fake.update_node("node1", labels={"vip": None})
    assert dict(fake.nodes()[0].labels) == {"vip": "true"}


def test_service_updates_retry_conflicts() -> None:
    fake = FakeCluster([NODE])
    backend = Backend(fake, "web", NODE.id)
    fake.apply(EnsureControl("swarmvip-agent:test"))
    _deploy(backend, _desired(backend))
    fake.conflicts = 4
    changed = _desired(backend, "x-swarmvip:\n  vips:\n    web: {addresses: [10.9.9.7/24]}\n")
    assert _deploy(backend, changed) > 0 and fake.conflicts == 0
    assert _deploy(backend, changed) == 0


def test_a_write_after_the_lease_is_lost_is_refused() -> None:
    fake = FakeCluster([NODE])
    with fake.exclusive("deploy@a", ttl=15, wait=0) as held:
        fake.swarm.take("controller-b")  # someone else holds it now
        held.renew()
        with pytest.raises(LeaseLost, match="controller-b"):
            fake.update_node("node1", labels={"vip": "true"})
    assert fake.writes == []

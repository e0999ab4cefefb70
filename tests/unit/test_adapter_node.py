"""The adapter turns an engine's node into ours, platform included (node.platform.* constraints)."""

from __future__ import annotations

from swarmvip.cluster.core import _node
from swarmvip.model import Role
from swarmvip.plan.constraints import matches, parse_constraint


def test_a_node_carries_its_platform_and_platform_constraints_match_it() -> None:
    raw = {
        "ID": "n1",
        "Spec": {"Role": "manager", "Availability": "active", "Labels": {}},
        "Status": {"State": "ready", "Addr": "10.0.0.11"},
        "Description": {"Hostname": "node1", "Platform": {"OS": "linux", "Architecture": "x86_64"}},
    }
    node = _node(raw)
    assert (node.os, node.arch, node.role) == ("linux", "x86_64", Role.MANAGER)
    assert matches(node, parse_constraint("node.platform.os == Linux"))
    assert matches(node, parse_constraint("node.platform.arch == x86_64"))
    assert not matches(node, parse_constraint("node.platform.arch == aarch64"))
    assert matches(node, parse_constraint("node.role == Manager"))

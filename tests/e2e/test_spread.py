"""End to end: three VIP groups on the 3-node lab, no priority labels, held by three nodes.

The planner balances the first node of each group over the stack (swarmvip.plan.spread): three
groups with the same three eligible nodes get three different first nodes, whatever the swarm's
node ids are. `swarmvip plan --json` names each group's expected holder; the nodes' interfaces
(`ip addr`, as every e2e test observes a holder) must agree, one holder per VIP, three nodes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from swarmvip_lab import Lab
from swarmvip_lab.layout import vip

from .vip import docker, holders, owned_objects, planned_order, swarmvip, wait_for

pytestmark = pytest.mark.lab
STACK = "spread"
VIPS = {"alpha": vip(70), "beta": vip(71), "gamma": vip(72)}  # 10.213.0.170-172
STACK_FILE = "x-swarmvip:\n  vips:\n" + "".join(
    f"    {group}:\n      addresses: [{address}/24]\n" for group, address in VIPS.items()
)
SETTLE = 90.0  # seconds: tasks start, keepalived elects, the top node preempts


def _swarmvip_labels(lab: Lab) -> dict[str, list[str]]:
    """{hostname: its swarmvip.priority* / swarmvip.drain labels} (the test needs none)."""
    found = {}
    for node in lab.nodes:
        out = docker(lab, "node", "inspect", node.hostname, "--format", "{{json .Spec.Labels}}")
        labels = json.loads(out or "{}") or {}
        found[node.hostname] = sorted(
            k for k in labels if k.startswith(("swarmvip.priority", "swarmvip.drain"))
        )
    return found


@pytest.fixture
def stack_file(lab: Lab, tmp_path: Path) -> Iterator[Path]:
    """The three-group stack deployed (VIP layer only), removed afterwards."""
    assert all(not labels for labels in _swarmvip_labels(lab).values()), _swarmvip_labels(lab)
    file = tmp_path / f"{STACK}.yml"
    file.write_text(STACK_FILE)
    result = swarmvip(lab, "deploy", "--vip-only", str(file))
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield file
    finally:
        removed = swarmvip(lab, "rm", STACK)
        assert removed.returncode == 0, removed.stdout + removed.stderr
        wait_for("every object of the stack gone", lambda: not owned_objects(lab, STACK), 60)


def _observed(lab: Lab) -> dict[str, tuple[str, ...]]:
    """{group: hostnames whose interface carries its VIP right now}."""
    return {group: tuple(holders(lab, address)) for group, address in VIPS.items()}


def test_three_groups_on_three_nodes_are_held_by_three_different_nodes(
    lab: Lab, stack_file: Path
) -> None:
    hostnames = sorted(node.hostname for node in lab.nodes)
    assert len(hostnames) == 3
    expected = {group: order[0] for group, order in planned_order(lab, str(stack_file)).items()}
    assert set(expected) == set(VIPS)
    assert sorted(expected.values()) == hostnames  # the plan spreads them: one group per node
    want = {group: (holder,) for group, holder in expected.items()}
    deadline = time.monotonic() + SETTLE
    while (now := _observed(lab)) != want and time.monotonic() < deadline:
        time.sleep(0.5)
    assert now == want  # each VIP on exactly its expected node, so on three different nodes
    assert sorted(holder for (holder,) in now.values()) == hostnames

"""A service pinned to a node that cannot run never blocks a wait (audit 3, repro r9_down).

Cluster.wait_running, and so deploy.apply_phases between its phases, skips a service whose node is
Down, paused, drained or gone, or whose only tasks are pending with "no suitable node"; it
names each such service once and returns when every other service runs its spec.
"""

from __future__ import annotations

from typing import Any

import pytest

from swarmvip.cluster import DockerCluster
from swarmvip.cluster.tasks import tally_tasks
from swarmvip.errors import ClusterError
from swarmvip.model import Node, Role
from swarmvip.ops.deploy import Prepared, render_all
from swarmvip.ops.deploy import apply_phases as apply
from swarmvip.plan.build import build_plan
from swarmvip.plan.desired import desired_state
from swarmvip.plan.diff import Action, Observed, ObservedService, diff
from swarmvip.spec.stackfile import parse_stack
from swarmvip.wire.keys import NODE_LABEL

SPEC = parse_stack("x-swarmvip:\n  vips:\n    web: {addresses: [10.0.0.100/24]}\n", "s.yml")
NO_NODE = "no suitable node (scheduling constraints not satisfied on 3 nodes)"


def swarm_node(i: int, state: str = "ready", availability: str = "active") -> Node:
    return Node(f"id{i}", f"node{i}", Role.WORKER, availability, state, f"10.0.0.1{i}")


def service(i: int, configs: tuple[str, ...] = ("c1",)) -> dict[str, Any]:
    return {
        "ID": f"sid-id{i}",
        "Spec": {
            "Name": f"web_vip-node{i}",
            "Labels": {NODE_LABEL: f"id{i}"},
            "TaskTemplate": {"ContainerSpec": {"Configs": list(configs)}},
        },
    }


def task(state: str, err: str = "", configs: tuple[str, ...] = ("c1",)) -> dict[str, Any]:
    status = {"State": state, **({"Err": err} if err else {})}
    return {
        "Version": {"Index": 9},
        "Spec": {"ContainerSpec": {"Configs": list(configs)}},
        "Status": status,
    }


def tally(
    tasks: dict[int, list[dict[str, Any]]], nodes: list[Node]
) -> tuple[int, list[str], list[str]]:
    return tally_tasks(
        [service(i) for i in sorted(tasks)],
        {f"sid-id{i}": t for i, t in tasks.items()},
        {n.id: n for n in nodes},
    )


def test_services_on_nodes_that_cannot_run_are_skipped_with_the_reason() -> None:
    nodes = [
        swarm_node(1),
        swarm_node(2, "down"),
        swarm_node(3, availability="pause"),
        swarm_node(4, availability="drain"),
        swarm_node(5, "unknown"),
    ]
    pending = [task("pending", NO_NODE)]
    running, problems, skipped = tally(
        {1: [task("running")], 2: pending, 3: pending, 4: [], 5: [], 6: []}, nodes
    )
    assert running == 1 and problems == []
    assert skipped == [
        "web_vip-node2 skipped: node2 is down",
        "web_vip-node3 skipped: node3 is paused",
        "web_vip-node4 skipped: node4 is drained",
        "web_vip-node5 skipped: node5 is unknown",
        "web_vip-node6 skipped: node id6 is not in the swarm",
    ]


def test_only_no_suitable_node_tasks_mean_it_cannot_run() -> None:
    nodes = [swarm_node(1), swarm_node(2), swarm_node(3)]
    running, problems, skipped = tally(
        {
            1: [task("pending", NO_NODE)],
            2: [task("preparing")],
            3: [task("running", configs=("old",))],
        },
        nodes,
    )
    assert running == 0
    assert skipped == [f"web_vip-node1 skipped: {NO_NODE}"]
    assert problems == ["web_vip-node2: preparing", "web_vip-node3: running"]


def test_a_task_still_running_its_spec_on_a_paused_node_counts_as_running() -> None:
    running, problems, skipped = tally(
        {1: [task("running")]}, [swarm_node(1, availability="pause")]
    )
    assert (running, problems, skipped) == (1, [], [])


class FakeAPI:
    """Three services; node3 is Down so its task stays pending (repro r9_down)."""

    def __init__(self, down: int = 3, hang: int = 0) -> None:
        self.down, self.hang = down, hang

    def services(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return [service(i, ()) for i in (1, 2, 3)]

    def tasks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        i = int(filters["service"].removeprefix("sid-id"))
        if i == self.down:
            return [task("pending", NO_NODE, ())]
        return [task("preparing" if i == self.hang else "running", configs=())]

    def nodes(self) -> list[dict[str, Any]]:
        return [
            {
                "ID": f"id{i}",
                "Spec": {"Role": "worker", "Availability": "active"},
                "Status": {"State": "down" if i == self.down else "ready", "Addr": f"10.0.0.1{i}"},
                "Description": {"Hostname": f"node{i}"},
            }
            for i in (1, 2, 3)
        ]


def fake_cluster(api: FakeAPI) -> tuple[DockerCluster, list[str]]:
    cluster = DockerCluster.__new__(DockerCluster)
    cluster._api = api  # type: ignore[assignment]
    done: list[str] = []

    def record(action: Action) -> None:
        done.append(action.describe())

    cluster.apply = record  # type: ignore[method-assign]
    return cluster, done


def test_wait_running_returns_with_a_down_member_and_names_it_once() -> None:
    cluster, _ = fake_cluster(FakeAPI())
    seen: list[tuple[int, int, list[str]]] = []
    skipped = cluster.wait_running("web", 1.0, lambda r, t, p: seen.append((r, t, p)))
    assert skipped == ("web_vip-node3 skipped: node3 is down",)
    assert seen == [(2, 3, ["web_vip-node3 skipped: node3 is down"])]
    assert cluster.wait_running_all(["web", "web"], 1.0) == skipped * 2


def test_wait_running_still_fails_on_a_runnable_task_that_does_not_start() -> None:
    cluster, _ = fake_cluster(FakeAPI(hang=2))
    with pytest.raises(ClusterError, match="web_vip-node2: preparing"):
        cluster.wait_running("web", 0.6)


def test_apply_crosses_every_phase_with_a_down_member() -> None:
    """repro r9_down: before, phase 1 only, then ClusterError after the timeout."""
    nodes = [swarm_node(1), swarm_node(2), swarm_node(3, "down")]

    def state(members: list[Node]) -> Any:
        plan = build_plan(SPEC, "web", members)
        confs, specs = render_all(plan)
        return plan, desired_state(plan, confs, specs)

    _, old = state(nodes)
    plan, new = state([*nodes, swarm_node(4)])  # a 4th node is labelled
    observed = Observed(
        services=tuple(
            ObservedService(f"sid-{s.node_id}", s.name, s.node_id, s.spec_hash, s.top_priority)
            for s in old.services
        )
    )
    actions = diff(new, observed, holders=("id1",))
    cluster, done = fake_cluster(FakeAPI())
    lines: list[str] = []
    apply(Prepared(SPEC, plan, new, actions, {}, ("id1",)), cluster, lines.append, timeout=1.0)
    assert done == [a.describe() for a in actions]  # every action, in the diff's order
    assert any(d.startswith("create service web_vip-node4") for d in done)
    assert lines.count("web_vip-node3 skipped: node3 is down") == 1

"""Hitless reconfiguration steps: who is lifted, in which order, and what is tolerated."""

from __future__ import annotations

from swarmvip.model import NodePlan, Plan
from swarmvip.plan.build import build_plan
from swarmvip.plan.handover import steps

from .builders import THREE, node, spec

WEB = "web:\n  addresses: [10.213.0.100/24]\n"


def plan_of(nodes=THREE, vips: str = WEB) -> Plan:  # type: ignore[no-untyped-def]
    return build_plan(spec(vips), "s", nodes)


def running(plan: Plan) -> dict[str, NodePlan]:
    return {n.node_id: n for n in plan.nodes}


def prio(plan: Plan) -> dict[str, int]:
    return {n.hostname: n.instances[0].priority for n in plan.nodes}


def test_nothing_to_do_when_running_matches_the_plan() -> None:
    plan = plan_of()
    todo, final = steps(plan, running(plan), {"web": "id-node1"})
    assert todo == [] and final == plan


def test_drained_holder_lifts_the_next_node_above_it_first() -> None:
    before = plan_of()
    after = plan_of((node("node1", "10.213.0.11", swarmvip__drain="true"), *THREE[1:]))
    todo, final = steps(after, running(before), {"web": "id-node1"})
    assert [(s.expect, prio(s.plan)) for s in todo] == [
        ("id-node2", {"node1": 250, "node2": 251, "node3": 230})
    ]
    assert prio(final) == {"node1": 1, "node2": 251, "node3": 230}  # node2 tolerated


def test_undrain_returns_the_vip_make_before_break() -> None:
    drained = plan_of((node("node1", "10.213.0.11", swarmvip__drain="true"), *THREE[1:]))
    now = {**running(drained)}
    now["id-node2"] = steps(drained, running(plan_of()), {"web": "id-node1"})[1].nodes[1]
    todo, final = steps(plan_of(), now, {"web": "id-node2"})
    assert [s.expect for s in todo] == ["id-node1"]
    assert prio(todo[0].plan)["node1"] == 252 and prio(final) == {
        "node1": 252,
        "node2": 240,
        "node3": 230,
    }


def test_unlabelled_holder_hands_over_before_its_service_goes() -> None:
    before = plan_of()
    after = plan_of(THREE[1:])
    todo, final = steps(after, running(before), {"web": "id-node1"})
    assert len(todo) == 1 and todo[0].expect == "id-node2"
    step = {n.hostname: n.instances[0] for n in todo[0].plan.nodes}
    assert set(step) == {"node1", "node2", "node3"}  # node1 still runs during the step
    assert step["node2"].priority == 251 and "10.213.0.11" in step["node2"].peers
    assert [n.hostname for n in final.nodes] == ["node2", "node3"]
    assert final.nodes[0].instances[0].priority == 251  # tolerated, no restart of the holder


def test_a_new_peer_moves_the_vip_away_and_back_without_restarting_the_holder_hot() -> None:
    before = plan_of(THREE[:2])
    after = plan_of()
    todo, final = steps(after, running(before), {"web": "id-node1"})
    assert [s.expect for s in todo] == ["id-node2", "id-node1"]
    first, second = (prio(s.plan) for s in todo)
    assert first["node2"] == 251 and first["node1"] == 250
    assert second["node1"] == 252
    node1 = next(n for n in todo[0].plan.nodes if n.hostname == "node1")
    assert node1 == running(before)["id-node1"]  # the holder is not touched in step 1
    assert prio(final) == {"node1": 252, "node2": 240, "node3": 230}


def test_sticky_groups_get_no_steps() -> None:
    sticky = WEB + "  preemption: sticky\n"
    todo, _ = steps(plan_of(vips=sticky), running(plan_of(THREE[:2], sticky)), {"web": "id-node1"})
    assert todo == []


def test_priorities_never_pass_254() -> None:
    hot = plan_of((node("node1", "10.213.0.11", swarmvip__priority="254"), *THREE[1:]))
    after = plan_of(
        (node("node1", "10.213.0.11", swarmvip__priority="254", swarmvip__drain="true"), *THREE[1:])
    )
    todo, final = steps(after, running(hot), {"web": "id-node1"})
    assert todo == [] and prio(final)["node1"] == 1

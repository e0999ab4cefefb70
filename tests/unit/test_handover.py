"""Hitless reconfiguration steps: who is lifted, in which order, and what is tolerated."""

from __future__ import annotations

import dataclasses

from swarmvip.model import Node, NodePlan, Plan
from swarmvip.plan.build import build_plan
from swarmvip.plan.handover import steps

from .builders import THREE, node, spec
from .test_priorities import rank

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


def test_a_lift_goes_straight_to_the_planned_priority_when_that_is_above_the_holder() -> None:
    """After a runtime drain node2 holds at its planned 240 and node1 runs its drained priority
    at runtime (its config still says 250). Undrained, node1 is lifted to its planned 250, not
    to 241: as holder it then runs the plan, and the final plan restarts no holder (a lift to
    241 left node1 below its plan, and the final plan restarted it: two more moves and lost
    requests per restart-path undrain in bench/results/planned.md)."""
    plan = plan_of()
    now = running(plan)
    now["id-node1"] = dataclasses.replace(
        now["id-node1"],
        instances=(dataclasses.replace(now["id-node1"].instances[0], priority=1),),
    )
    todo, final = steps(plan, now, {"web": "id-node2"})
    assert [(s.expect, prio(s.plan)["node1"]) for s in todo] == [("id-node1", 250)]
    assert final == plan


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


def test_a_node_an_interrupted_pass_lifted_is_not_lifted_again() -> None:
    """Fault campaign scenario 8, run 11: a controller lifted node4 and was killed; node4 took
    the VIP, but the next controller's first view still showed the old holder, and it lifted
    node4 again: a restart, which handed the VIP back to the departing holder (5 moves, 157
    failed requests). The next pass leaves the lifted node as it runs and waits for it."""
    after = plan_of(THREE[1:])
    first, _ = steps(after, running(plan_of()), {"web": "id-node1"})
    applied = running(first[0].plan)  # the killed pass's step ran: node2 at 251
    again, final = steps(after, applied, {"web": "id-node1"})  # the old holder, as last seen
    assert [s.expect for s in again] == ["id-node2"]
    assert running(again[0].plan)["id-node2"] == applied["id-node2"]  # no restart
    assert running(final)["id-node2"] == applied["id-node2"]  # tolerated as it runs


def test_a_step_drops_no_running_member_from_a_peer_list() -> None:
    """node1, the holder, leaves: while the step lifts node2, node3 (restarted with its final
    config, which no longer lists node1) keeps node1 as a peer, so node1 hears whoever is the
    master until its service goes; the final plan drops it (fault campaign, scenario 8: two
    holders for 1.07 s when a config without the departing holder became the master's)."""
    before = plan_of()
    todo, final = steps(plan_of(THREE[1:]), running(before), {"web": "id-node1"})
    step = {n.hostname: n.instances[0] for n in todo[0].plan.nodes}
    assert "10.213.0.11" in step["node3"].peers and "10.213.0.11" in step["node2"].peers
    finals = {n.hostname: n.instances[0] for n in final.nodes}
    assert "10.213.0.11" not in finals["node3"].peers  # node2, tolerated, may keep it
    assert step["node1"] == running(before)["id-node1"].instances[0]  # the holder untouched


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


def test_a_sticky_holder_keeps_a_departed_peer_rather_than_restart() -> None:
    """A backup leaves a sticky group whose holder is not the plan's top member: restarting the
    holder only to drop the peer would move the VIP, which sticky promises not to do. The
    holder is kept whatever every other member's liveness (e2e test_hardening database-tcp:
    one pass restarted it or not depending on whether a just-restarted member was live)."""
    sticky = WEB + "  preemption: sticky\n"
    now = running(plan_of(vips=sticky))
    plan = plan_of(THREE[:2], sticky)
    for live in (None, {"id-node1", "id-node2"}, {"id-node2"}):
        todo, final = steps(plan, now, {"web": "id-node2"}, live)
        kept = {n.node_id: n for n in final.nodes}
        assert todo == [] and kept["id-node2"] == now["id-node2"], live
        assert kept["id-node1"] == running(plan)["id-node1"]  # the backup drops node3


def test_a_sticky_holder_that_needs_a_real_change_is_restarted() -> None:
    sticky = WEB + "  preemption: sticky\n"
    now = running(plan_of(vips=sticky))
    plan = plan_of(THREE[:2], sticky + "  timers: fast\n")
    _, final = steps(plan, now, {"web": "id-node2"})
    assert final == plan


def test_a_drained_sticky_holder_is_restarted() -> None:
    """Its planned priority drops: only a restart moves a nopreempt VIP (e2e drain)."""
    sticky = WEB + "  preemption: sticky\n"
    now = running(plan_of(vips=sticky))
    drained = (node("node1", "10.213.0.11", swarmvip__drain="true"), *THREE[1:])
    plan = plan_of(drained, sticky)
    _, final = steps(plan, now, {"web": "id-node1"})
    assert final == plan and prio(final)["node1"] == 1


def test_priorities_never_pass_254() -> None:
    hot = plan_of((node("node1", "10.213.0.11", swarmvip__priority="254"), *THREE[1:]))
    after = plan_of(
        (node("node1", "10.213.0.11", swarmvip__priority="254", swarmvip__drain="true"), *THREE[1:])
    )
    todo, final = steps(after, running(hot), {"web": "id-node1"})
    assert todo == [] and prio(final)["node1"] == 1


# --- a member that cannot run is never lifted; a newcomer never starts unheard (audit 3) ---
# node4's id is one that s/web ranks last (rendezvous order, plan.spread): these scenarios are
# about a newcomer that outranks nobody; test_a_newcomer_ranked_second_* covers the other case.
FOUR = (*THREE, dataclasses.replace(node("node4", "10.213.0.14"), id="id-node4x"))


def test_the_scenarios_rank_node1_node2_node3_then_node4() -> None:
    order = [n.node_id for n in sorted(plan_of(FOUR).nodes, key=lambda n: -prio_of(n))]
    assert order == ["id-node1", "id-node2", "id-node3", "id-node4x"]
    assert rank("s", "web", [n.id for n in FOUR]) == order


def prio_of(n: NodePlan) -> int:
    return n.instances[0].priority


def members(step: Plan) -> dict[str, tuple[int, tuple[str, ...]]]:
    return {n.hostname: (n.instances[0].priority, n.instances[0].peers) for n in step.nodes}


def test_a_down_top_node_is_never_lifted_and_the_newcomer_waits_for_the_holder() -> None:
    """repro r10_steps_down / r17_flap: node1 (top) is Down, node2 holds, node4 is labelled."""
    todo, final = steps(
        plan_of(FOUR), running(plan_of()), {"web": "id-node2"}, {"id-node2", "id-node3"}
    )
    assert [s.expect for s in todo] == ["id-node3", "id-node2"]
    first, second = (members(s.plan) for s in todo)
    assert first["node1"][0] == second["node1"][0] == prio(final)["node1"] == 250  # not lifted
    # lifted above every running member, node1 too (Down: a boosted member that cannot run is
    # never tied with, see handover._top_running)
    assert first["node3"][0] == 251 and first["node2"] == members(plan_of())["node2"]
    assert "node4" not in first  # node2, holding, does not list it yet
    assert second["node2"][0] == 252 and all(
        "10.213.0.14" in p for h, (_, p) in second.items() if h != "node4"
    )
    assert prio(final) == {"node1": 250, "node2": 252, "node3": 230, "node4": 220}


def test_the_boosted_holder_is_tolerated_over_a_member_that_cannot_run() -> None:
    """Second pass of the above: nothing left to do (no flapping)."""
    plan = plan_of(FOUR)
    first, final = steps(plan, running(plan_of()), {"web": "id-node2"}, {"id-node2", "id-node3"})
    live = {"id-node2", "id-node3", "id-node4x"}
    todo, again = steps(plan, running(final), {"web": "id-node2"}, live)
    assert first and todo == [] and again == final


def test_a_newcomer_is_not_in_a_step_before_the_holder_lists_it() -> None:
    todo, final = steps(plan_of(), running(plan_of(THREE[:2])), {"web": "id-node1"})
    assert "node3" not in members(todo[0].plan)
    assert members(todo[1].plan)["node3"] == members(final)["node3"]


def test_a_drained_holder_hands_over_to_the_top_live_member() -> None:
    todo, final = steps(
        plan_of(), running(plan_of()), {"web": "id-node1"}, {"id-node2", "id-node3"}
    )
    assert [(s.expect, prio(s.plan)["node2"]) for s in todo] == [("id-node2", 251)]
    assert prio(final) == {"node1": 250, "node2": 251, "node3": 230}


def test_no_live_member_means_no_step() -> None:
    todo, final = steps(plan_of(FOUR), running(plan_of()), {"web": "id-node2"}, set())
    assert todo == [] and "node4" in members(final)


def _first_ranked_newcomer() -> Node:
    """node4 with an id that s/web ranks above node1..node3 (rendezvous order)."""
    ids = [n.id for n in THREE]
    for i in range(1000):
        candidate = f"id-node4-{i}"
        if rank("s", "web", [*ids, candidate])[0] == candidate:
            return dataclasses.replace(node("node4", "10.213.0.14"), id=candidate)
    raise AssertionError("no id ranks first")


def test_a_newcomer_ranked_first_is_lifted_straight_above_the_holder() -> None:
    """One move (holder -> newcomer) instead of three (away, back, then to the newcomer): the
    newcomer lists every member, so its adverts reach the holder, which yields to them."""
    newcomer = _first_ranked_newcomer()
    plan = plan_of((*THREE, newcomer))
    live = {"id-node1", "id-node2", "id-node3", newcomer.id}
    todo, final = steps(plan, running(plan_of()), {"web": "id-node1"}, live)
    assert [s.expect for s in todo] == [newcomer.id]
    step = members(todo[0].plan)
    assert step["node4"][0] == 251 and "10.213.0.11" in step["node4"][1]
    assert step["node1"] == members(plan_of())["node1"]  # the holder is not touched
    assert prio(final)["node4"] == 251 and prio(final)["node1"] < 251


def test_a_newcomer_that_cannot_run_is_not_lifted() -> None:
    newcomer = _first_ranked_newcomer()
    plan = plan_of((*THREE, newcomer))
    todo, _ = steps(plan, running(plan_of()), {"web": "id-node1"}, {"id-node1", "id-node2"})
    assert newcomer.id not in [s.expect for s in todo]
    assert [s.expect for s in todo] == ["id-node2", "id-node1"]  # away and back, as before

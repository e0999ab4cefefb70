"""plan.moves: the runtime steps of a planned move (lift, lower, settle), and plan shapes."""

from __future__ import annotations

import dataclasses

import pytest

from swarmvip.model import Plan
from swarmvip.plan.build import build_plan
from swarmvip.plan.moves import AgentRuntime, RuntimeRefused, align, move_plan, same_shape
from tests.unit.builders import THREE, node, spec

WEB = "web: {addresses: [10.213.0.100/24]}\n"


def plan_of(*nodes_: object, vips: str = WEB) -> Plan:
    return build_plan(spec(vips), "s", list(nodes_))  # type: ignore[arg-type]


def agents(plan: Plan, running: dict[str, int] | None = None) -> dict[str, AgentRuntime]:
    """Every node's agent running `running[hostname]` (default: the plan's priority)."""
    out = {}
    for n in plan.nodes:
        prio = {i.group: (running or {}).get(n.hostname, i.priority) for i in n.instances}
        out[n.node_id] = AgentRuntime("s", n.node_id, "spec1", 9816, prio, {})
    return out


def drained_three(hostname: str) -> list[object]:
    """THREE with `hostname` labelled swarmvip.drain=true."""
    return [
        node(n.hostname, n.addr, str(n.role), swarmvip__drain="true")
        if n.hostname == hostname
        else n
        for n in THREE
    ]


def prio(plan: Plan, hostname: str, group: str = "web") -> int:
    n = next(n for n in plan.nodes if n.hostname == hostname)
    return next(i.priority for i in n.instances if i.group == group)


def ranked(plan: Plan, group: str = "web") -> list[str]:
    return sorted((n.hostname for n in plan.nodes), key=lambda h: -prio(plan, h, group))


def test_nothing_to_send_when_the_agents_run_the_plan() -> None:
    plan = plan_of(*THREE)
    live = frozenset(n.node_id for n in plan.nodes)
    top = next(n.node_id for n in plan.nodes if n.hostname == ranked(plan)[0])
    assert move_plan(plan, agents(plan), {"web": top}, live, 7) is None


def test_drain_lifts_the_next_node_alone_then_lowers_then_settles() -> None:
    before = plan_of(*THREE)
    holder, second, third = ranked(before)
    drained = drained_three(holder)
    after = plan_of(*drained)
    assert ranked(after)[0] == second
    ids = {n.hostname: n.node_id for n in after.nodes}
    running = {h: prio(before, h) for h in (holder, second, third)}
    mp = move_plan(after, agents(after, running), {"web": ids[holder]}, frozenset(ids.values()), 42)
    assert mp is not None and mp.index == 42 and mp.stack == "s"
    lift, hand, lower, settle = mp.steps
    # 1. only the new first node, to the top (254), no wait
    [t] = lift.targets
    assert t.node_id == ids[second] and t.priorities == {"web": 254} and not t.release
    assert lift.until is None
    address = next(n.unicast_src for n in after.nodes if n.node_id == ids[second])
    assert t.address == address and (t.port, t.spec) == (9816, "spec1")
    # 2. then the holder releases the group to it (a priority-0 advert to T's address), and
    # the step waits until T is MASTER (T's own command repeated, to be polled)
    got = {x.node_id: x for x in hand.targets}
    assert got[ids[holder]].release == {"web": address} and got[ids[holder]].priorities == {}
    assert got[ids[second]].priorities == {"web": 254} and not got[ids[second]].release
    assert hand.until is not None and (hand.until.node_id, hand.until.group) == (ids[second], "web")
    # 2. everybody else that changes (the drained holder goes to the bottom); no wait
    lowered = {x.node_id: dict(x.priorities) for x in lower.targets}
    assert lowered[ids[holder]] == {"web": prio(after, holder)} and lower.until is None
    assert ids[second] not in lowered
    assert prio(after, holder) < min(prio(after, h) for h in (second, third))
    # 3. the new first node gets its planned priority, still the top of the plan
    [s] = settle.targets
    assert s.node_id == ids[second] and s.priorities == {"web": prio(after, second)}
    assert mp.timeout > 3 * 0.2


def test_undrain_lifts_the_returning_node_above_the_holder() -> None:
    after = plan_of(*THREE)
    back = ranked(after)[0]
    drained = drained_three(back)
    before = plan_of(*drained)
    ids = {n.hostname: n.node_id for n in after.nodes}
    holder = ranked(before)[0]
    assert holder != back
    running = {n.hostname: prio(before, n.hostname) for n in before.nodes}
    mp = move_plan(after, agents(after, running), {"web": ids[holder]}, frozenset(ids.values()), 9)
    assert mp is not None
    assert [t.node_id for t in mp.steps[0].targets] == [ids[back]]
    assert mp.steps[1].until is not None and mp.steps[1].until.node_id == ids[back]
    releasing = [t for t in mp.steps[1].targets if t.release]
    assert [t.node_id for t in releasing] == [ids[holder]]
    assert mp.steps[-1].targets[0].node_id == ids[back]


def test_a_holder_without_a_listener_or_outside_the_plan_releases_nothing() -> None:
    after = plan_of(*THREE)
    back, holder, _ = ranked(after)
    ids = {n.hostname: n.node_id for n in after.nodes}
    running = {back: 1, holder: 200}
    outsider = {"web": "id-gone"}  # holds the VIP but is no member any more
    mp = move_plan(after, agents(after, running), outsider, frozenset(ids.values()), 9)
    assert mp is not None and not any(t.release for s in mp.steps for t in s.targets)
    assert mp.steps[1].until is not None and mp.steps[1].until.node_id == ids[back]


def test_a_node_that_is_not_live_gets_nothing_and_blocks_nothing() -> None:
    plan = plan_of(*THREE)
    first, second, third = ranked(plan)
    ids = {n.hostname: n.node_id for n in plan.nodes}
    running = {first: prio(plan, first) - 1, second: prio(plan, second), third: 1}
    live = frozenset({ids[first], ids[second]})
    mp = move_plan(plan, agents(plan, running), {"web": ids[first]}, live, 3)
    assert mp is not None
    assert {t.node_id for s in mp.steps for t in s.targets} == {ids[first]}


def test_refused_without_a_listener_for_a_sticky_group_or_above_254() -> None:
    plan = plan_of(*THREE)
    first, second, _ = ranked(plan)
    ids = {n.hostname: n.node_id for n in plan.nodes}
    live = frozenset(ids.values())
    old = agents(plan)
    old[ids[second]] = dataclasses.replace(old[ids[second]], port=None)
    with pytest.raises(RuntimeRefused, match="no runtime listener"):
        move_plan(plan, old, {"web": ids[first]}, live, 1)
    sticky = plan_of(*THREE, vips="web: {addresses: [10.213.0.100/24], preemption: sticky}\n")
    held_by_second = {"web": ids[second]}
    drained = {second: 254}  # the holder runs above its planned priority: lowering it = a drain
    with pytest.raises(RuntimeRefused, match="sticky"):
        move_plan(sticky, agents(sticky, drained), held_by_second, live, 1)
    raised = {first: 1}  # another member's change moves nothing under nopreempt: runtime
    mp = move_plan(sticky, agents(sticky, raised), held_by_second, live, 1)
    assert mp is not None and [t.node_id for s in mp.steps for t in s.targets] == [ids[first]]
    full = {second: 254}  # a label gave the holder 254, and it was taken away
    mp = move_plan(plan, agents(plan, full), held_by_second, live, 1)
    assert mp is not None and mp.steps[1].until is not None
    assert mp.steps[1].until.node_id == ids[first]  # nothing above 254: drop it below T
    assert {t.node_id: dict(t.priorities) for t in mp.steps[0].targets} == {
        ids[second]: {"web": prio(plan, first) - 1},
        ids[first]: {"web": prio(plan, first)},  # unchanged
    }
    assert {t.node_id: dict(t.release) for t in mp.steps[1].targets} == {
        ids[second]: {"web": next(n.unicast_src for n in plan.nodes if n.node_id == ids[first])},
        ids[first]: {},  # polled for MASTER
    }
    assert {t.node_id: dict(t.priorities) for t in mp.steps[2].targets} == {
        ids[second]: {"web": prio(plan, second)}
    }
    with pytest.raises(RuntimeRefused, match="no priority to move"):
        move_plan(plan, agents(plan, {second: 254, first: 1}), held_by_second, live, 1)


def test_three_groups_lift_one_step_each_and_merge_the_rest_per_node() -> None:
    vips = "".join(f"g{i}: {{addresses: [10.213.0.{100 + i}/24]}}\n" for i in range(3))
    plan = plan_of(*THREE, vips=vips)
    ids = {n.hostname: n.node_id for n in plan.nodes}
    running = {h: {f"g{i}": 1 for i in range(3)} for h in ids}
    tops = {g: ranked(plan, g)[0] for g in ("g0", "g1", "g2")}
    holders = {g: ids[next(h for h in ids if h != tops[g])] for g in tops}
    found = {}
    for n in plan.nodes:
        pr = {
            g: running[n.hostname][g] + (50 if ids[n.hostname] == holders[g] else 0) for g in tops
        }
        found[n.node_id] = AgentRuntime("s", n.node_id, "x", 9816, pr, {})
    mp = move_plan(plan, found, holders, frozenset(ids.values()), 5)
    assert mp is not None
    lifts = [s for s in mp.steps if s.until is not None]
    assert sorted(s.until.group for s in lifts if s.until) == ["g0", "g1", "g2"]
    assert all(s.until is None for s in mp.steps[: 2 * len(lifts) : 2])  # lift, then release
    for s in mp.steps[2 * len(lifts) :]:
        assert len({t.node_id for t in s.targets}) == len(s.targets)  # one command per node


def test_same_shape_ignores_priorities_only() -> None:
    plan = plan_of(*THREE)
    a = plan.nodes[0]
    b = dataclasses.replace(
        a, instances=tuple(dataclasses.replace(i, priority=i.priority - 7) for i in a.instances)
    )
    c = dataclasses.replace(
        a, instances=tuple(dataclasses.replace(i, peers=i.peers[:1]) for i in a.instances)
    )
    assert same_shape(a, b) and not same_shape(a, c)


def test_align_sends_only_the_given_nodes_that_run_other_priorities() -> None:
    """A restart-path step's lifted node whose config already carries the lift but which runs
    a lower runtime priority gets the step's priority in one step; nodes not given, nodes that
    run the plan and nodes without a listener get nothing."""
    plan = plan_of(*THREE)
    first, second, third = ranked(plan)
    ids = {n.hostname: n.node_id for n in plan.nodes}
    running = agents(plan, {first: 100, second: 90})
    assert align(plan, running, frozenset(), 4) is None
    assert align(plan, running, frozenset({ids[third]}), 4) is None  # runs the plan
    mp = align(plan, running, frozenset({ids[first]}), 4)
    assert mp is not None and mp.index == 4 and len(mp.steps) == 1
    (target,) = mp.steps[0].targets
    assert (target.node_id, dict(target.priorities)) == (ids[first], {"web": prio(plan, first)})
    assert mp.steps[0].until is None and not target.release and not target.hold
    deaf = running | {ids[first]: dataclasses.replace(running[ids[first]], port=None)}
    assert align(plan, deaf, frozenset({ids[first]}), 4) is None

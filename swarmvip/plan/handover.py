"""Hitless reconfiguration: move a VIP make-before-break instead of restarting its holder. Pure.

Swarm configs are immutable, so any change to a node's keepalived config restarts its task.
Restarting a backup is harmless; restarting the holder hands over by keepalived's priority-0
advert, a short hole in which in-flight requests fail. So, for groups under the preferred
policy, when the holder's config must change or another node should hold:

- the node that must take over is first restarted (as a backup) with a priority just above
  the holder's running one, so it preempts while the old holder still answers;
- if the old holder stays the plan's top node but needs a new config (a peer joined), the
  second node takes over that way, then the old holder returns the same way, one above it;
- a holder that runs a higher priority than planned, or extra (departed) peers, is *tolerated*:
  it is the plan's top node and outranks every other member, so restarting it to the exact
  plan would only cause a hole. It converges at its next restart. A sticky group's holder
  whose only difference is extra peers is tolerated whatever the ranking: nopreempt keeps the
  VIP where it is anyway.

A boosted priority is capped at 254; past that the holder is restarted (priority-0 handover).
Sticky groups never preempt, so their holder is restarted last, as before.

Only a *live* node (the caller says which: ready, active, reporting) is ever lifted, and only
live members count when a holder's boosted priority is weighed: a Down, paused or drained
member cannot take over, so waiting for it would stall the change, and lifting it again on every
pass would flap its service. A newcomer (a node with no running task yet) enters a step plan
only when every other member of its groups lists it as a peer there; otherwise it is created by
the final plan, after the holder, so it never starts unheard by the MASTER (a second MASTER).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from swarmvip.model import InstancePlan, NodePlan, Plan, Preemption

MAX_PRIORITY = 254


@dataclass(frozen=True, slots=True)
class Step:
    """An intermediate plan to apply, then wait until `expect` holds `group`."""

    plan: Plan
    group: str
    expect: str  # node id


def _instance(node: NodePlan | None, group: str) -> InstancePlan | None:
    if node is None:
        return None
    return next((i for i in node.instances if i.group == group), None)


def _with_priority(node: NodePlan, group: str, priority: int, peer: str = "") -> NodePlan:
    """`node` with a new priority in `group` (and `peer` added, so the old holder hears it)."""

    def change(inst: InstancePlan) -> InstancePlan:
        peers = inst.peers if not peer or peer in inst.peers else (*inst.peers, peer)
        return dataclasses.replace(inst, priority=priority, peers=peers)

    return dataclasses.replace(
        node, instances=tuple(change(i) if i.group == group else i for i in node.instances)
    )


def _replace(plan: Plan, nodes: Mapping[str, NodePlan]) -> Plan:
    """The plan with some node plans swapped in (or added, for a node leaving the plan)."""
    merged = {n.node_id: n for n in plan.nodes} | dict(nodes)
    return dataclasses.replace(
        plan, nodes=tuple(sorted(merged.values(), key=lambda n: (n.hostname, n.node_id)))
    )


def _ranked(
    plan: Plan, group: str, live: Collection[str] | None = None
) -> list[tuple[int, NodePlan]]:
    """The group's members by planned priority, highest first; only `live` ones if given."""
    found = [
        (i.priority, n)
        for n in plan.nodes
        if (i := _instance(n, group)) is not None and (live is None or n.node_id in live)
    ]
    return sorted(found, key=lambda pair: -pair[0])


def tolerated(
    planned: NodePlan, running: NodePlan, plan: Plan, live: Collection[str] | None = None
) -> bool:
    """The running holder may stay as it is: only priority up / extra peers differ, and it
    outranks every other planned member of each of its groups (every other live one, if
    `live` is given: a member that cannot run takes nothing from it). A sticky group's holder
    that differs only by extra peers is kept whatever the ranking: nopreempt keeps the VIP
    where it is, and restarting the holder only to drop a departed peer would move it (a
    changed priority, a drain, still restarts it)."""
    if len(planned.instances) != len(running.instances):
        return False
    for want, have in zip(planned.instances, running.instances, strict=True):
        others = [p for p, n in _ranked(plan, want.group, live) if n.node_id != planned.node_id]
        same = dataclasses.replace(have, priority=want.priority, peers=want.peers) == want
        if not (
            same
            and have.priority >= want.priority
            and set(have.peers) >= set(want.peers)
            and (_sticky_peers_only(want, have) or all(want.priority > p for p in others))
        ):
            return False
    return dataclasses.replace(running, instances=planned.instances) == planned


def _sticky_peers_only(want: InstancePlan, have: InstancePlan) -> bool:
    return want.preemption is Preemption.STICKY and have.priority == want.priority


def final_plan(
    plan: Plan,
    running: Mapping[str, NodePlan],
    holders: Mapping[str, str],
    live: Collection[str] | None = None,
) -> Plan:
    """The plan, with each tolerated holder's running node plan kept as it is."""
    keep = {}
    for node_id in set(holders.values()):
        planned = next((n for n in plan.nodes if n.node_id == node_id), None)
        have = running.get(node_id)
        if (
            planned is not None
            and have is not None
            and planned != have
            and tolerated(planned, have, plan, live)
        ):
            keep[node_id] = have
    return _replace(plan, keep)


def _node(plan: Plan, node_id: str) -> NodePlan | None:
    return next((n for n in plan.nodes if n.node_id == node_id), None)


def _heard(
    step: Plan, running: Mapping[str, NodePlan], lifted: tuple[str, str] | None = None
) -> Plan:
    """`step` without the newcomers some other member does not list as a peer in it: started
    now, such a node would hear no advert from the holder and make itself a second MASTER.

    `lifted` (node id, group): a newcomer lifted above the holder in that group need not hear
    it there. It becomes MASTER and its adverts reach the holder (the newcomer lists every
    member), which yields: keepalived accepts a higher-priority advert from a source outside
    its own unicast_peer list (measured with keepalived 2.2.7: "Master received advert from
    … with higher priority 251, ours 250 / Entering BACKUP STATE")."""

    def heard(new: NodePlan) -> bool:
        return all(
            inst.unicast_src in other.peers
            for inst in new.instances
            if (new.node_id, inst.group) != lifted
            for node in step.nodes
            if node.node_id != new.node_id and (other := _instance(node, inst.group)) is not None
        )

    kept = tuple(n for n in step.nodes if n.node_id in running or heard(n))
    return dataclasses.replace(step, nodes=kept)


def _top_running(running: Mapping[str, NodePlan], group: str) -> int:
    """The highest priority any running task of `group` has, live or not: a lift goes above it,
    so a member still boosted by an interrupted pass (not live yet) never ties with the lifted
    node (a tie is decided by address, not by the plan)."""
    return max((i.priority for n in running.values() if (i := _instance(n, group))), default=0)


def _already_lifted(
    running: Mapping[str, NodePlan], node_id: str, group: str, holder_src: str
) -> NodePlan | None:
    """What `node_id` runs, if that already outranks every other running member of `group`
    and lists the holder: an earlier pass lifted it (and was killed before it saw the
    takeover). Lifting it again would restart it, and if it already took the VIP, its
    restart hands the VIP back to the old holder (fault campaign scenario 8, run 11: 5 moves
    where 1 was planned)."""
    node = running.get(node_id)
    inst = _instance(node, group)
    if node is None or inst is None or holder_src not in inst.peers:
        return None
    others = [
        i.priority for n in running.values() if n.node_id != node_id and (i := _instance(n, group))
    ]
    return node if all(inst.priority > p for p in others) else None


def _lifted(
    current: Plan, running: Mapping[str, NodePlan], top: NodePlan, group: str, holder: NodePlan
) -> Plan | None:
    """The step that lifts `top` one above the holder's running priority in `group` (the holder
    itself untouched), or None: past 254, or `top` is a newcomer that could not start in that
    step (unheard in another of its groups). A `top` already lifted is left as it runs."""
    have = _instance(holder, group)
    if have is None:
        return None
    raised = _already_lifted(running, top.node_id, group, have.unicast_src)
    if raised is None:
        above = _top_running(running, group) + 1
        if above > MAX_PRIORITY:
            return None
        # its planned priority when that is above already: the new holder then runs its plan
        # and the final plan need not restart it (a restart of a holder is two more moves)
        planned = _instance(top, group)
        lift = max(above, planned.priority if planned is not None else 0)
        raised = _with_priority(top, group, lift, have.unicast_src)
    lifted = _replace(current, {holder.node_id: holder, top.node_id: raised})
    step = _heard(lifted, running, (top.node_id, group))
    return step if _node(step, top.node_id) is not None else None


def steps(
    plan: Plan,
    running: Mapping[str, NodePlan],
    holders: Mapping[str, str],
    live: Collection[str] | None = None,
) -> tuple[list[Step], Plan]:
    """(intermediate steps, final plan) for `holders`: {group: node id holding it now}.

    live: the node ids that can take a VIP now (ready, active, reporting: the caller decides);
    None: every node. No other node is lifted or waited for."""
    current = final_plan(plan, running, holders, live)
    out: list[Step] = []
    expected = dict(holders)
    for group, holder in sorted(holders.items()):
        have = _instance(running.get(holder), group)
        ranked = _ranked(plan, group, live)
        if have is None or not ranked or have.preemption is not Preemption.PREFERRED:
            continue
        keep = {holder: running[holder]}
        top = _node(current, ranked[0][1].node_id)
        assert top is not None
        lift = (
            _lifted(current, running, top, group, running[holder])
            if top.node_id != holder
            else None
        )
        if top.node_id != holder and lift is None:  # a newcomer that cannot start yet
            ranked = [(p, n) for p, n in ranked if n.node_id in running]
            top = _node(current, ranked[0][1].node_id) if ranked else None
            if top is None:
                continue
            lift = (
                _lifted(current, running, top, group, running[holder])
                if top.node_id != holder
                else None
            )
        if lift is not None:
            current = _replace(current, {**keep, top.node_id: _node(lift, top.node_id) or top})
            out.append(Step(lift, group, top.node_id))
            expected[group] = top.node_id
        elif (
            top.node_id == holder
            and _node(current, holder) != running[holder]
            and len(ranked) > 1
            and (base := _top_running(running, group)) + 2 <= MAX_PRIORITY
        ):
            second = _node(current, ranked[1][1].node_id)
            planned = _node(plan, holder)
            assert second is not None and planned is not None
            current = _replace(
                current, {**keep, second.node_id: _with_priority(second, group, base + 1)}
            )
            out.append(Step(_heard(current, running), group, second.node_id))
            current = _replace(current, {holder: _with_priority(planned, group, base + 2)})
            out.append(Step(_heard(current, running), group, holder))
    final = final_plan(plan, {n.node_id: n for n in current.nodes}, expected, live)
    return [dataclasses.replace(s, plan=_keeping_peers(s.plan, running)) for s in out], final


def _keeping_peers(step: Plan, running: Mapping[str, NodePlan]) -> Plan:
    """A step drops no running member from anyone's peer list: a member still running that
    the new master's config no longer lists hears no adverts once the master changes, and
    makes itself a second MASTER (a departing holder, which the final plan removes once it no
    longer holds; a departing backup is removed before anything else, ops.deploy). The final
    plan drops them; a node the step leaves as it runs is not touched."""
    members: dict[str, set[str]] = {}
    for node in running.values():
        for inst in node.instances:
            members.setdefault(inst.group, set()).add(inst.unicast_src)

    def widened(inst: InstancePlan) -> InstancePlan:
        missing = members.get(inst.group, set()) - set(inst.peers) - {inst.unicast_src}
        return dataclasses.replace(inst, peers=(*inst.peers, *sorted(missing)))

    nodes = tuple(
        n
        if running.get(n.node_id) == n
        else dataclasses.replace(n, instances=tuple(widened(i) for i in n.instances))
        for n in step.nodes
    )
    return dataclasses.replace(step, nodes=nodes)

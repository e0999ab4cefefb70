"""Planned moves at runtime: the steps that give running agents the plan's priorities. Pure.

The runtime channel (wire.command) changes a running instance's priority at once; keepalived
then does the move itself: a backup whose priority rises above the holder's stops accepting the
holder's adverts and takes over after 3 x advert_int + skew (RFC 5798 preemption), or after
Skew_Time when the holder releases the group to it, and the old holder yields to its
higher-priority advert. The new holder has the VIP before the old one
drops it (make-before-break), with no task restart.

Steps, in order (one relay plan, wire.relay):
1. lift: for each group whose planned first node T is live but does not hold the VIP, T alone is
   raised to 254 (above every live member), then the holder releases the group to T: one
   priority-0 advert to T alone (agent.release), so T takes over after Skew_Time (2 ms at 254)
   instead of 3 x advert_int; the holder keeps the VIP until T's higher advert reaches it. The
   release step waits until T reports MASTER. Nobody else changes yet and only T hears the
   release, so no third node can race T for the VIP. When both agents can (their reports'
   `switch`; an IPv4 group), T's lift holds back its announcements of the VIPs and the holder
   switches the clients itself at its quiet instant (agent.arphold, agent.handoff).
2. lower: every other change (a drained holder going to the bottom, any re-ranking).
3. settle: each T gets its planned priority (the top of the plan, so nothing moves any more).

A group with `preemption: sticky` (nopreempt) cannot be moved by priorities: lowering its
holder (a drain) is RuntimeRefused, and the caller uses the restart path; other priority
changes in it go at runtime (they move nothing, as nopreempt wants). A member without a
runtime listener (an older agent) is RuntimeRefused too. Where T cannot be lifted (another
member runs 254), the members at or above T are dropped just below it instead, in one step
that waits for T.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

from swarmvip.model import InstancePlan, NodePlan, Plan, Preemption
from swarmvip.wire.command import MAX_PRIORITY, MIN_PRIORITY
from swarmvip.wire.relay import MovePlan, Step, Target, Until

SETTLE_MARGIN = 3.0  # seconds on top of the slowest takeover bound, per step


class RuntimeRefused(Exception):
    """The change cannot be made at runtime (the message says why): use the restart path."""


@dataclass(frozen=True, slots=True)
class AgentRuntime:
    """What one agent of the stack reports about its runtime channel."""

    stack: str
    node_id: str
    spec: str  # the spec hash its task runs
    port: int | None  # its listener; None: no listener (an older agent, or no key)
    priorities: Mapping[str, int]  # group -> priority it runs with now
    states: Mapping[str, str]  # group -> VRRP state
    switch: bool = False  # it can hold and switch a planned move's clients (agent.arphold)


def without_priorities(node: NodePlan) -> NodePlan:
    return replace(node, instances=tuple(replace(i, priority=0) for i in node.instances))


def same_shape(a: NodePlan, b: NodePlan) -> bool:
    """Two plans of a node that differ in priorities only (the runtime channel's business)."""
    return without_priorities(a) == without_priorities(b)


def takeover_bound(plan: Plan) -> float:
    """The slowest group's preemption time: 3 x advert_int + skew + preempt_delay."""
    worst = 0.0
    for node in plan.nodes:
        for inst in node.instances:
            worst = max(worst, 3 * inst.timers.advert_int * 1.01 + inst.preempt_delay)
    return worst


def move_plan(
    plan: Plan,
    agents: Mapping[str, AgentRuntime],
    holders: Mapping[str, str],
    live: frozenset[str],
    index: int,
) -> MovePlan | None:
    """The relay plan that brings the live agents to `plan`'s priorities; None when they run
    them already. holders: {group: node id holding it}; live: nodes that can take a VIP."""
    want = {
        (n.node_id, i.group): i.priority
        for n in plan.nodes
        if n.node_id in live
        for i in n.instances
    }
    cur: dict[tuple[str, str], int] = {}
    for node_id, group in want:
        agent = agents.get(node_id)
        if agent is None or agent.port is None or group not in agent.priorities:
            raise RuntimeRefused(f"node {node_id} has no runtime listener for {group}")
        cur[node_id, group] = agent.priorities[group]
    changed = {k for k, v in want.items() if cur[k] != v}
    if not changed:
        return None
    lifts: list[tuple[str, str, int]] = []  # (group, node, priority)
    drops: list[tuple[str, str, dict[str, int]]] = []  # (group, T, {node: priority})
    tops: dict[str, str] = {}
    for group in sorted({g for _, g in want}):
        members = {n: want[n, g] for n, g in want if g == group}
        top = max(members, key=lambda n: (members[n], n))
        tops[group] = top
        holder = holders.get(group)
        others = [cur[n, group] for n in members if n != top]
        if (
            holder is not None
            and holder != top
            and (holder, group) in want
            and want[holder, group] < cur[holder, group]
            and _sticky(plan, group)
        ):
            # lowering a sticky holder (a drain) asks for a move, but nopreempt ignores
            # priorities: the holder has to stop (a restart)
            raise RuntimeRefused(f"group {group} is sticky (nopreempt): a move needs a restart")
        if holder is None or holder == top or not others or cur[top, group] > max(others):
            continue
        if _sticky(plan, group):
            continue  # nopreempt: the holder keeps the VIP, nobody is lifted
        if max(others) < MAX_PRIORITY:
            # to the top: Skew_Time after the release is then (256 - 254) / 256 x advert_int
            lifts.append((group, top, MAX_PRIORITY))
            continue
        # nothing above the others: drop those at or above T just below T instead (still in
        # one step, so only T outranks the holder and no third node races it)
        if cur[top, group] <= MIN_PRIORITY:
            raise RuntimeRefused(f"group {group}: no priority to move {top} above the others")
        drops.append(
            (
                group,
                top,
                {
                    n: cur[top, group] - 1
                    for n in members
                    if n != top and cur[n, group] >= cur[top, group]
                }
                | {top: cur[top, group]},  # T unchanged: the relay polls it for MASTER
            )
        )
    steps: list[Step] = []
    for group, top, changes in [(g, n, {n: p}) for g, n, p in lifts] + drops:
        steps += _handover(plan, agents, holders[group], group, top, changes)
    for final in (False, True):
        batch: dict[str, dict[str, int]] = {}
        dropped = {(n, g) for g, _, d in drops for n in d}
        for node, group in sorted(changed | {(n, g) for g, n, _ in lifts} | dropped):
            if (tops[group] == node) == final:
                batch.setdefault(node, {})[group] = want[node, group]
        if batch:
            steps.append(
                Step(targets=tuple(_target(plan, agents, n, p) for n, p in sorted(batch.items())))
            )
    return MovePlan(
        stack=plan.stack,
        index=index,
        steps=tuple(steps),
        timeout=takeover_bound(plan) + SETTLE_MARGIN,
    )


def align(
    plan: Plan, agents: Mapping[str, AgentRuntime], nodes: Collection[str], index: int
) -> MovePlan | None:
    """One step that gives each of `nodes` the priorities `plan` has for it where its agent
    runs others; None when none does. For a restart-path step: a node whose config already
    carries the step's priority, but which runs another one set at runtime (a config + delta),
    gets no new config and no restart, so only the runtime channel changes what it runs
    (else a lifted node never preempts). Nodes without a listener run their config: left out."""
    targets = []
    for node in plan.nodes:
        agent = agents.get(node.node_id)
        if node.node_id not in nodes or agent is None or agent.port is None:
            continue
        wrong = {
            i.group: i.priority
            for i in node.instances
            if agent.priorities.get(i.group, i.priority) != i.priority
        }
        if wrong:
            targets.append(_target(plan, agents, node.node_id, wrong))
    if not targets:
        return None
    return MovePlan(
        stack=plan.stack,
        index=index,
        steps=(Step(targets=tuple(targets)),),
        timeout=takeover_bound(plan) + SETTLE_MARGIN,
    )


def _handover(
    plan: Plan,
    agents: Mapping[str, AgentRuntime],
    holder: str,
    group: str,
    top: str,
    changes: Mapping[str, int],
) -> list[Step]:
    """T outranks the holder (the changes), then the holder releases the group to T (one
    priority-0 advert: T takes over after Skew_Time) and the step waits for T to be MASTER.
    The release is a separate, later step: it must not reach T before T's lift. A holder that
    cannot release (no listener, not in the plan) leaves T to preempt by itself. When both
    agents can (AgentRuntime.switch, an IPv4 group), T's lift holds back its announcements
    and the holder switches the clients itself at its quiet instant (agent.arphold)."""
    wait = Until(top, group)
    polled = _target(plan, agents, top, {group: changes[top]})
    agent = agents.get(holder)
    lifted = _instance(plan, top, group)
    held = _instance(plan, holder, group)
    if agent is None or agent.port is None or held is None:
        first = Step(
            tuple(_target(plan, agents, n, {group: p}) for n, p in sorted(changes.items()))
        )
        return [first, Step((polled,), wait)]
    assert lifted is not None  # T is the plan's first node of the group
    switch = agent.switch and agents[top].switch and _ipv4(lifted) and _ipv4(held)
    hold = {group: held.unicast_src} if switch else {}
    first = Step(
        tuple(
            replace(_target(plan, agents, n, {group: p}), hold=hold if n == top else {})
            for n, p in sorted(changes.items())
        )
    )
    release = {group: lifted.unicast_src}
    handing = replace(_target(plan, agents, holder, {}, group), release=release, switch=switch)
    return [first, Step((handing, polled), wait)]


def _ipv4(inst: InstancePlan) -> bool:
    """A group whose clients switch by ARP (IPv6 has no release, and no hold)."""
    return all(a.version == 4 for a in inst.addresses) and "." in inst.unicast_src


def _instance(plan: Plan, node_id: str, group: str) -> InstancePlan | None:
    """node_id's instance of `group` in the plan, if it has one."""
    return next(
        (i for n in plan.nodes if n.node_id == node_id for i in n.instances if i.group == group),
        None,
    )


def _sticky(plan: Plan, group: str) -> bool:
    return any(
        i.preemption == Preemption.STICKY
        for n in plan.nodes
        for i in n.instances
        if i.group == group
    )


def _target(
    plan: Plan,
    agents: Mapping[str, AgentRuntime],
    node_id: str,
    priorities: dict[str, int],
    group: str | None = None,
) -> Target:
    """node_id's command; its address is the VRRP source of `group` or of the first group
    in `priorities`."""
    node = next(n for n in plan.nodes if n.node_id == node_id)
    agent = agents[node_id]
    assert agent.port is not None  # move_plan refused agents without a listener
    inst = next(i for i in node.instances if i.group == group or i.group in priorities)
    return Target(
        node_id=node_id,
        address=inst.unicast_src,
        port=agent.port,
        spec=agent.spec,
        priorities=priorities,
    )

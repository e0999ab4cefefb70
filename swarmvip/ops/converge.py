"""Converge one stack to its plan without a client-visible hole: hitless steps, then the rest.

Reads who holds each VIP (the agents' reports) and what every task runs now, asks
plan.handover for the make-before-break steps, applies each step and waits until the expected
node holds the VIP, then applies the final plan. Used by deploy, drain/undrain and the
controller alike.

A member that cannot run (node Down, paused or drained, or silent) blocks nothing: it is never
lifted nor waited for, it is reported once, and the change goes on with the others, so a
second pass over an unchanged swarm applies nothing (the controller does not loop on it).
Holders are keyed by node id, never by hostname (two nodes may share one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial

from swarmvip.cluster.port import Cluster
from swarmvip.errors import UnavailableError
from swarmvip.model import NodePlan, Plan, StackSpec
from swarmvip.ops.deploy import (
    ObservedStack,
    Progress,
    apply_phases,
    materialize,
    observe_stack,
    plan_stack,
    refreshed,
    stored_spec,
)
from swarmvip.ops.running import as_configured, as_reported
from swarmvip.ops.runtime import agents_of, align_kept, reconcile, runtime_moves
from swarmvip.plan.handover import Step, steps
from swarmvip.plan.moves import RuntimeRefused, same_shape
from swarmvip.status.fold import fold
from swarmvip.status.model import NodeStatus, Snapshot, StatusSource
from swarmvip.status.rules import cannot_run

# seconds to wait for every runnable node's first report (returns as soon as all reported):
# over ssh:// the first read of each log stream alone can take seconds, and a drain preflight
# on a view without the backups' reports would refuse ("no healthy backup would remain")
SETTLE = 10.0
TAKEOVER = 20.0  # seconds to wait for a lifted node to preempt
# seconds a pass waits for the stack to be steady (`steady`): a VIP whose live members show no
# holder (or two) is in a takeover, or its new holder's first report is on its way; a member on
# a node that can run it but that is not live is restarting (an earlier, killed pass updated
# it). Planned without its holder, the final plan would tolerate none and restart the node
# that really holds it; planned without the restarting member, a pass lifts another one, and
# the next pass the first again (fault campaign scenario 8, session 10's run 11: 4-6 moves,
# 1.4-2.5 s of two holders)
HELD_WAIT = 5.0


def runnable(node: NodeStatus) -> bool:
    """The swarm can run a task on this node now (ready and active)."""
    return cannot_run(node, node.node_id) is None


def reported(snap: Snapshot) -> bool:
    """Every runnable node with a keepalived task has reported at least once (a Down, paused
    or drained node may never report: waiting for it would only delay every pass)."""
    return all(n.report_age is not None for n in snap.nodes if n.task_state != "-" and runnable(n))


def snapshot(
    source: StatusSource, until: Callable[[Snapshot], bool] = reported, timeout: float = SETTLE
) -> Snapshot:
    """A snapshot once `until(snapshot)` holds, or at the timeout. An unreachable manager is an
    error: nothing may be decided on an empty view (no holder would look like no VIP at all)."""
    deadline = time.monotonic() + timeout
    while True:
        obs = source.observe()
        if obs.error:
            raise UnavailableError(f"manager unreachable: {obs.error}")
        snap = fold(obs)
        if until(snap) or time.monotonic() > deadline:
            return snap
        time.sleep(0.1)


def holders_of(snap: Snapshot, stack: str) -> dict[str, str]:
    """{group: node id} for each VIP of the stack that exactly one node holds. The node ids
    come from the reports; a status without them falls back to hostnames, and then only to a
    hostname that names one node."""
    found: dict[str, str] = {}
    for v in snap.vips:
        if v.stack != stack:
            continue
        if v.holder_ids:
            if len(v.holder_ids) == 1:
                found[v.name] = v.holder_ids[0]
            continue
        ids = [n.node_id for n in snap.nodes if v.holders and n.hostname == v.holders[0]]
        if len(v.holders) == 1 and len(ids) == 1:
            found[v.name] = ids[0]
    return found


def live_nodes(snap: Snapshot, stack: str) -> frozenset[str]:
    """Node ids that can take a VIP of the stack now: runnable, and healthy (fresh report,
    task and keepalived running, no FAULT) in every group of the stack they are members of.

    A paused node that holds a VIP of the stack counts as live too: Swarm keeps its running
    task, so moving the VIP away only because of the pause would be a gratuitous move (it
    cannot be lifted, though: a restarted task would never be placed there)."""
    held = set(holders_of(snap, stack).values())
    ok = {
        n.node_id
        for n in snap.nodes
        if runnable(n) or (n.node_id in held and n.state == "ready" and n.availability == "pause")
    }
    sick = {
        m.node_id
        for v in snap.vips
        if v.stack == stack
        for m in v.members
        if m.effective_priority is None
    }
    members = {m.node_id for v in snap.vips if v.stack == stack for m in v.members}
    return frozenset((members & ok) - sick)


def newcomers(snap: Snapshot, plan: Plan, running: Mapping[str, NodePlan]) -> frozenset[str]:
    """Planned members with no task yet whose node can run one now: a newcomer the plan ranks
    first may be lifted straight above the holder (one move instead of three)."""
    nodes = {n.node_id: n for n in snap.nodes}
    return frozenset(
        n.node_id
        for n in plan.nodes
        if n.node_id not in running and (node := nodes.get(n.node_id)) and runnable(node)
    )


def unrunnable(snap: Snapshot, stack: str) -> list[str]:
    """One line for each member of the stack whose node cannot run its task now."""
    members = {m.node_id for v in snap.vips if v.stack == stack for m in v.members}
    return [
        f"{why}: skipped, the change goes on without it"
        for n in snap.nodes
        if n.node_id in members and (why := cannot_run(n, n.node_id)) is not None
    ]


def steady(snap: Snapshot, stack: str) -> bool:
    """Every VIP of the stack with a live member has exactly one holder, and every member on a
    node that can run its task is live."""
    live, holders = live_nodes(snap, stack), holders_of(snap, stack)
    nodes = {n.node_id: n for n in snap.nodes}
    for v in snap.vips:
        if v.stack != stack:
            continue
        if any(m.node_id in live for m in v.members) and v.name not in holders:
            return False
        for m in v.members:
            node = nodes.get(m.node_id)
            if node is not None and runnable(node) and m.node_id not in live:
                return False
    return True


def _settled(snap: Snapshot, stack: str) -> bool:
    return reported(snap) and steady(snap, stack)


def _took_over(snap: Snapshot, stack: str, step: Step) -> bool:
    return holders_of(snap, stack).get(step.group) == step.expect


def converge(
    spec: StackSpec,
    stack: str,
    cluster: Cluster,
    source: StatusSource,
    progress: Progress,
    timeout: float = 120.0,
) -> int:
    """Apply every change the stack needs; returns the number of actions applied (a runtime
    priority change counts as one). Members that cannot run are reported and left out of the
    handover (see the module docstring). Priorities go over the runtime channel
    (ops.runtime) when every live member has a listener; otherwise, or when the relay cannot
    do it, by restarting tasks make-before-break as before."""
    try:
        return _converge(spec, stack, cluster, source, progress, timeout, runtime_moves())
    except RuntimeRefused as why:
        progress(f"runtime priorities not possible ({why}): restarting tasks instead")
    return _converge(spec, stack, cluster, source, progress, timeout, runtime=False)


def _shaped_running(
    plan: Plan, running: Mapping[str, NodePlan], observed: ObservedStack
) -> dict[str, NodePlan]:
    """running, with each node whose task differs from the plan in priorities only (and has a
    shape label) counted as running the plan: the runtime channel changes it, no restart."""
    shaped = {s.node_id for s in observed.objects.services if s.shape_hash}
    planned = {n.node_id: n for n in plan.nodes}
    return {
        node_id: planned[node_id]
        if node_id in planned and node_id in shaped and same_shape(now, planned[node_id])
        else now
        for node_id, now in running.items()
    }


def _priorities_only(plan: Plan, running: Mapping[str, NodePlan]) -> bool:
    """Every planned node runs a task of its plan's shape and no other node runs one: what is
    left to change are priorities."""
    return set(running) == {n.node_id for n in plan.nodes} and all(
        same_shape(running[n.node_id], n) for n in plan.nodes
    )


def _converge(
    spec: StackSpec,
    stack: str,
    cluster: Cluster,
    source: StatusSource,
    progress: Progress,
    timeout: float,
    runtime: bool,
) -> int:
    snap = snapshot(source)
    if not steady(snap, stack):  # a takeover or a restart under way: plan after it
        snap = snapshot(source, partial(_settled, stack=stack), HELD_WAIT)
    holders = holders_of(snap, stack)
    notes = unrunnable(snap, stack)  # said only when there is something to do
    observed = observe_stack(cluster, stack)
    stored = stored_spec(spec, stack, observed.objects)
    plan = plan_stack(spec, stack, observed)
    live = live_nodes(snap, stack) | newcomers(snap, plan, observed.running)
    runtime = runtime and runtime_ready(plan, snap, live_nodes(snap, stack))
    running = as_reported(observed.running, agents_of(snap, stack))
    if runtime:
        running = _shaped_running(plan, running, observed)
    todo: list[Step] = []
    final = plan  # with only priorities to change, the runtime channel moves the VIP
    if not (runtime and _priorities_only(plan, running)):
        todo, final = steps(plan, running, holders, live)
    applied = 0
    for step in todo:
        configured = as_configured(step.plan, running, observed.running)
        prepared = materialize(spec, configured, observed, holders, stored, runtime=False)
        notes = _say(progress, notes)
        progress(f"make-before-break: lift {_host(step)} to take {step.group}")
        apply_phases(prepared, cluster, progress, timeout=timeout, source=source)
        applied += len(prepared.actions)
        applied += _align_kept(step, configured, observed, snap, cluster, progress)
        snap = snapshot(source, partial(_took_over, stack=stack, step=step), TAKEOVER)
        if not _took_over(snap, stack, step):
            progress(f"{_host(step)} did not take {step.group} within {TAKEOVER:g}s; going on")
        holders = holders_of(snap, stack) or holders
        observed = refreshed(observed, cluster)
    final = as_configured(final, running, observed.running)
    prepared = materialize(spec, final, observed, holders, stored, runtime=runtime)
    if prepared.actions:
        notes = _say(progress, notes)
    apply_phases(prepared, cluster, progress, timeout=timeout, source=source)
    applied += len(prepared.actions)
    snap = snapshot(source) if prepared.actions or todo or runtime else snap
    if runtime:
        if reconcile(
            plan, snap, holders_of(snap, stack), live_nodes(snap, stack), cluster, progress
        ):
            _say(progress, notes)
            applied += 1
    else:
        applied += _reset_runtime(plan, snap, stack, cluster, progress)
    return applied


def _align_kept(
    step: Step,
    configured: Plan,
    observed: ObservedStack,
    snap: Snapshot,
    cluster: Cluster,
    progress: Progress,
) -> int:
    """A lifted node whose config the step left as it was (no restart) runs what its agent
    reports, which an earlier runtime move may have set: its config already carries the lift,
    so nothing is written, but it runs config + a lower delta and would never preempt (a 20 s
    stall, then extra moves). It gets the step's priorities over the runtime channel. Other
    nodes are left to the final pass. If the relay cannot, say so; the wait for the takeover
    tells the rest."""
    kept = frozenset(
        n.node_id
        for n in configured.nodes
        if n.node_id == step.expect and observed.running.get(n.node_id) == n
    )
    try:
        return int(align_kept(step.plan, snap, kept, cluster, progress))
    except RuntimeRefused as why:
        progress(f"runtime priorities of unchanged tasks not sent ({why})")
        return 0


def _reset_runtime(
    plan: Plan, snap: Snapshot, stack: str, cluster: Cluster, progress: Progress
) -> int:
    """After the restart path: agents that still run priorities an earlier runtime move gave
    them (their task's spec did not change, so no restart reset it; a restart with the same
    spec keeps them, by design) are given the plan's over the runtime channel, make-before-break
    like any runtime move. Agents without a listener are left out; if the relay cannot do it,
    say so: the next converge tries again."""
    agents = agents_of(snap, stack)
    listening = frozenset(n for n, a in agents.items() if a.port is not None)
    live = live_nodes(snap, stack) & listening
    if not live:
        return 0
    try:
        return int(reconcile(plan, snap, holders_of(snap, stack), live, cluster, progress))
    except RuntimeRefused as why:
        progress(f"agents still run earlier runtime priorities ({why}); a re-run retries")
        return 0


def runtime_ready(plan: Plan, snap: Snapshot, live: frozenset[str]) -> bool:
    """Every live member reports a runtime listener. An agent older than the runtime channel
    has none: the restart path runs (and restarts it with one where its spec changes)."""
    agents = agents_of(snap, plan.stack)
    return all(
        (agent := agents.get(node.node_id)) is not None and agent.port is not None
        for node in plan.nodes
        if node.node_id in live
    )


def _say(progress: Progress, lines: list[str]) -> list[str]:
    for line in lines:
        progress(line)
    return []


def _host(step: Step) -> str:
    return next((n.hostname for n in step.plan.nodes if n.node_id == step.expect), step.expect)

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
    Progress,
    apply_phases,
    materialize,
    observe_stack,
    plan_stack,
    refreshed,
    stored_spec,
)
from swarmvip.plan.handover import Step, steps
from swarmvip.status.fold import fold
from swarmvip.status.model import NodeStatus, Snapshot, StatusSource
from swarmvip.status.rules import cannot_run

# seconds to wait for every runnable node's first report (returns as soon as all reported):
# over ssh:// the first read of each log stream alone can take seconds, and a drain preflight
# on a view without the backups' reports would refuse ("no healthy backup would remain")
SETTLE = 10.0
TAKEOVER = 20.0  # seconds to wait for a lifted node to preempt


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
    """Apply every change the stack needs; returns the number of actions applied. Members that
    cannot run are reported and left out of the handover (see the module docstring)."""
    snap = snapshot(source)
    holders = holders_of(snap, stack)
    notes = unrunnable(snap, stack)  # said only when there is something to do
    observed = observe_stack(cluster, stack)
    stored = stored_spec(spec, stack, observed.objects)
    plan = plan_stack(spec, stack, observed)
    live = live_nodes(snap, stack) | newcomers(snap, plan, observed.running)
    todo, final = steps(plan, observed.running, holders, live)
    applied = 0
    for step in todo:
        prepared = materialize(spec, step.plan, observed, holders, stored)
        notes = _say(progress, notes)
        progress(f"make-before-break: lift {_host(step)} to take {step.group}")
        apply_phases(prepared, cluster, progress, timeout=timeout, source=source)
        applied += len(prepared.actions)
        snap = snapshot(source, partial(_took_over, stack=stack, step=step), TAKEOVER)
        if not _took_over(snap, stack, step):
            progress(f"{_host(step)} did not take {step.group} within {TAKEOVER:g}s; going on")
        holders = holders_of(snap, stack) or holders
        observed = refreshed(observed, cluster)
    prepared = materialize(spec, final, observed, holders, stored)
    if prepared.actions:
        _say(progress, notes)
    apply_phases(prepared, cluster, progress, timeout=timeout, source=source)
    return applied + len(prepared.actions)


def _say(progress: Progress, lines: list[str]) -> list[str]:
    for line in lines:
        progress(line)
    return []


def _host(step: Step) -> str:
    return next((n.hostname for n in step.plan.nodes if n.node_id == step.expect), step.expect)

"""Converge one stack to its plan without a client-visible hole: hitless steps, then the rest.

Reads who holds each VIP (the agents' reports) and what every task runs now, asks
plan.handover for the make-before-break steps, applies each step and waits until the expected
node holds the VIP, then applies the final plan. Used by deploy, drain/undrain and the
controller alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from swarmvip.cluster import Cluster
from swarmvip.deploy import Progress, apply, plan_for, prepare
from swarmvip.errors import UnavailableError
from swarmvip.model import StackSpec
from swarmvip.plan.handover import Step, steps
from swarmvip.status.fold import fold
from swarmvip.status.model import Snapshot
from swarmvip.status.source import StatusSource

SETTLE = 3.0  # seconds to wait for every node's first report
TAKEOVER = 20.0  # seconds to wait for a lifted node to preempt


def reported(snap: Snapshot) -> bool:
    """Every node that runs a keepalived task has reported at least once."""
    return all(n.report_age is not None for n in snap.nodes if n.task_state != "-")


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
    """{group: node id} for each VIP of the stack that exactly one node holds."""
    ids = {n.hostname: n.node_id for n in snap.nodes}
    return {
        v.name: ids[v.holders[0]]
        for v in snap.vips
        if v.stack == stack and len(v.holders) == 1 and v.holders[0] in ids
    }


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
    """Apply every change the stack needs; returns the number of actions applied."""
    holders = holders_of(snapshot(source), stack)
    todo, final = steps(plan_for(spec, stack, cluster), cluster.running_plans(stack), holders)
    applied = 0
    for step in todo:
        prepared = prepare(spec, stack, cluster, holders, plan=step.plan)
        progress(f"make-before-break: lift {_host(step)} to take {step.group}")
        apply(prepared, cluster, progress, timeout=timeout)
        applied += len(prepared.actions)
        snap = snapshot(source, partial(_took_over, stack=stack, step=step), TAKEOVER)
        if not _took_over(snap, stack, step):
            progress(f"{_host(step)} did not take {step.group} within {TAKEOVER:g}s; going on")
        holders = holders_of(snap, stack) or holders
    prepared = prepare(spec, stack, cluster, holders, plan=final)
    apply(prepared, cluster, progress, timeout=timeout)
    return applied + len(prepared.actions)


def _host(step: Step) -> str:
    return next((n.hostname for n in step.plan.nodes if n.node_id == step.expect), step.expect)

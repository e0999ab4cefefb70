"""Give running agents their planned priorities through the relay: planned moves in < 1 s.

converge calls `reconcile` after the shape changes (peer lists, checks, ...: task restarts)
are applied: the priorities the plan wants and the agents do not run yet are sent as one
relay plan (plan.moves: lift, lower, settle), run in the relay task on the manager this
process talks to. No task restarts for a priority change, so a drain, an undrain or a
re-ranking moves each VIP once, make-before-break, within keepalived's preemption time.

SWARMVIP_MOVE=restart turns it off: every priority change restarts tasks (plan.handover's
make-before-break), the path before the runtime channel. The benchmark compares both.
"""

from __future__ import annotations

import os
import time

from swarmvip.cluster.port import Cluster
from swarmvip.errors import ClusterError
from swarmvip.model import Plan
from swarmvip.ops.actions import Progress
from swarmvip.plan.moves import AgentRuntime, RuntimeRefused, align, move_plan
from swarmvip.status.model import Snapshot
from swarmvip.wire.command import CommandError
from swarmvip.wire.relay import MovePlan, plan_to_json, result_from_json

MOVE_ENV = "SWARMVIP_MOVE"  # "restart": the restart path; anything else: runtime moves
# "0": drain and undrain start the relay's sender only when the plan is known, as before
# (cluster.control.WarmSender); the benchmark compares both
AHEAD_ENV = "SWARMVIP_SENDER_AHEAD"


def runtime_moves() -> bool:
    return os.environ.get(MOVE_ENV, "runtime") != "restart"


def sender_ahead() -> bool:
    """drain and undrain start the relay's sender before they read the swarm."""
    return runtime_moves() and os.environ.get(AHEAD_ENV, "1") != "0"


def agents_of(snap: Snapshot, stack: str) -> dict[str, AgentRuntime]:
    return {a.node_id: a for n in snap.nodes for a in n.runtime if a.stack == stack}


def describe(mp: MovePlan, hostnames: dict[str, str]) -> str:
    parts = []
    for n, step in enumerate(mp.steps, 1):
        what = ", ".join(
            f"{hostnames.get(t.node_id, t.node_id)} "
            + " ".join(f"{g}={p}" for g, p in sorted(t.priorities.items()))
            for t in step.targets
        )
        wait = f" until it holds {step.until.group}" if step.until else ""
        parts.append(f"{n}) {what}{wait}")
    return "runtime priorities: " + "; ".join(parts)


def reconcile(
    plan: Plan,
    snap: Snapshot,
    holders: dict[str, str],
    live: frozenset[str],
    cluster: Cluster,
    progress: Progress,
) -> bool:
    """Send the priorities `plan` wants to the live agents that run others. False when there
    was nothing to send; RuntimeRefused when it cannot be done at runtime (the caller then
    restarts tasks instead)."""
    mp = move_plan(plan, agents_of(snap, plan.stack), holders, live, cluster.raft_index())
    if mp is None:
        return False
    _send(mp, snap, cluster, progress)
    return True


def align_kept(
    plan: Plan, snap: Snapshot, kept: frozenset[str], cluster: Cluster, progress: Progress
) -> bool:
    """A restart-path step's nodes whose config it keeps (no restart) but which run other
    priorities set at runtime get the step's over the runtime channel (plan.moves.align).
    False when there was nothing to send; RuntimeRefused when the relay cannot do it."""
    mp = align(plan, agents_of(snap, plan.stack), kept, cluster.raft_index())
    if mp is None:
        return False
    _send(mp, snap, cluster, progress)
    return True


def _send(mp: MovePlan, snap: Snapshot, cluster: Cluster, progress: Progress) -> None:
    progress(describe(mp, {n.node_id: n.hostname for n in snap.nodes}))
    started = time.monotonic()
    try:
        result = result_from_json(cluster.run_relay(plan_to_json(mp)))
    except (ClusterError, CommandError) as exc:
        raise RuntimeRefused(str(exc)) from exc
    if not result.ok:
        errors = "; ".join(
            f"{node}: {why}" for step in result.steps for node, why in step.errors.items()
        )
        raise RuntimeRefused(f"the relay stopped: {result.error or errors or 'step not done'}")
    progress(f"runtime priorities applied in {time.monotonic() - started:.2f}s")

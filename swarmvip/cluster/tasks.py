"""Which keepalived tasks run their service's current spec, and which services cannot run.

Pure over the engine's raw service and task dicts (read by cluster/core.py): the wait between
the phases of an apply asks this, and a service pinned to a node that cannot run is skipped
instead of waited for.
"""

from __future__ import annotations

from typing import Any

from swarmvip.model import Node
from swarmvip.status.rules import cannot_run
from swarmvip.wire.keys import NODE_LABEL


def _task_is_current(task: dict[str, Any], service: dict[str, Any]) -> bool:
    """The task runs the service's current spec: a started task with the service's configs."""
    spec = service["Spec"]["TaskTemplate"]["ContainerSpec"]
    return bool(
        task.get("Version", {}).get("Index", 0) > 0
        and task.get("Spec", {})
        and task["Status"]["State"] == "running"
        and task["Spec"].get("ContainerSpec", {}).get("Configs") == spec.get("Configs")
    )


NO_SUITABLE_NODE = "no suitable node"


def tally_tasks(
    services: list[dict[str, Any]],
    tasks: dict[str, list[dict[str, Any]]],
    nodes: dict[str, Node],
) -> tuple[int, list[str], list[str]]:
    """(services running their current spec, "<service>: <task errors>" for those still
    starting, "<service> skipped: <why>" for those that cannot run). Pure: raw service and
    task dicts (by service id, desired state running) and the swarm's nodes by id.

    A service cannot run when it has no current running task and its node (NODE_LABEL) is
    Down, paused, drained or gone, or every task it has is pending with "no suitable node"."""
    running, problems, skipped = 0, [], []
    for svc in services:
        name, own = svc["Spec"]["Name"], tasks.get(svc["ID"], [])
        node_id = (svc["Spec"].get("Labels") or {}).get(NODE_LABEL, "")
        why = cannot_run(nodes.get(node_id), node_id) if node_id else None
        errs = [t["Status"].get("Err") or t["Status"]["State"] for t in own]
        if any(_task_is_current(t, svc) for t in own):
            running += 1
        elif why is not None:
            skipped.append(f"{name} skipped: {why}")
        elif own and all(
            t["Status"]["State"] == "pending" and NO_SUITABLE_NODE in (t["Status"].get("Err") or "")
            for t in own
        ):
            skipped.append(f"{name} skipped: {errs[0]}")
        else:
            problems.append(f"{name}: {', '.join(errs) or 'pending'}")
    return running, problems, skipped

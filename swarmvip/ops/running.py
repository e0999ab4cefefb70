"""What the keepalived tasks of a stack run: their configs, and the priorities their agents
report (a runtime change, ops.runtime, sets a priority without touching the task's config).
Pure.

Planning weighs what really runs (`as_reported`); writing keeps each config that is to stay as
it is (`as_configured`), so a runtime priority never turns into a config change, which would
restart that task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from swarmvip.model import NodePlan, Plan
from swarmvip.plan.moves import AgentRuntime


def as_reported(
    running: Mapping[str, NodePlan], agents: Mapping[str, AgentRuntime]
) -> dict[str, NodePlan]:
    """The running plans with the priorities their agents report running (a runtime change
    leaves a task's config as it was): the handover lifts above what really runs."""
    out = dict(running)
    for node_id, now in running.items():
        agent = agents.get(node_id)
        if agent is not None and agent.port is not None:
            out[node_id] = replace(
                now,
                instances=tuple(
                    replace(i, priority=agent.priorities.get(i.group, i.priority))
                    for i in now.instances
                ),
            )
    return out


def as_configured(
    plan: Plan, reported: Mapping[str, NodePlan], configured: Mapping[str, NodePlan]
) -> Plan:
    """`plan` with each node it keeps exactly as it runs (the step's untouched holder, a
    tolerated holder) given back its configured plan: `reported` carries the priorities the
    agents run, which a runtime change sets without touching the task's config, and writing
    them into a config would restart that task (a holder's restart hands the VIP over: fault
    campaign scenario 8, 3 moves where 1 was planned)."""
    nodes = tuple(
        configured[n.node_id] if n.node_id in configured and reported.get(n.node_id) == n else n
        for n in plan.nodes
    )
    return replace(plan, nodes=nodes)

"""Present a prepared deploy: a JSON-able document and a human table, per node. Pure."""

from __future__ import annotations

from typing import Any, Protocol

from swarmvip.model import Plan
from swarmvip.plan.diff import Action, CreateService, RemoveService, UpdateService

PLAN_SCHEMA = 1


def printable(value: object) -> str:
    """`value` as text safe for a terminal: every non-printable character (ESC, CR, newline,
    other controls) is escaped the way repr() does, so swarm-provided strings such as hostnames
    cannot inject terminal escape sequences."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(value))


class PreparedLike(Protocol):
    @property
    def plan(self) -> Plan: ...
    @property
    def actions(self) -> tuple[Action, ...]: ...


def _node_actions(actions: tuple[Action, ...]) -> tuple[dict[str, str], list[str]]:
    per_node: dict[str, str] = {}
    removed = []
    for action in actions:
        if isinstance(action, CreateService):
            per_node[action.service.node_id] = "create"
        elif isinstance(action, UpdateService):
            per_node[action.service.node_id] = "update"
        elif isinstance(action, RemoveService):
            removed.append(action.current.name)
    return per_node, removed


def plan_document(prepared: PreparedLike) -> dict[str, Any]:
    plan = prepared.plan
    per_node, removed = _node_actions(prepared.actions)
    return {
        "schema": PLAN_SCHEMA,
        "stack": plan.stack,
        "image": plan.image,
        "nodes": [
            {
                "node_id": n.node_id,
                "hostname": n.hostname,
                "action": per_node.get(n.node_id, "unchanged"),
                "unicast_src": n.unicast_src,
                "interface": n.interface or "auto",
                "instances": [
                    {
                        "group": i.group,
                        "vrid": i.vrid,
                        "priority": i.priority,
                        "preemption": str(i.preemption),
                        "advert_int": i.timers.advert_int,
                        "vrrp_version": i.timers.version,
                        "peers": list(i.peers),
                        "addresses": [a.with_prefixlen for a in i.addresses],
                    }
                    for i in n.instances
                ],
            }
            for n in plan.nodes
        ],
        "remove": removed,
        "actions": [a.describe() for a in prepared.actions],
        "warnings": list(plan.warnings),
    }


def plan_table(doc: dict[str, Any]) -> str:
    p = printable
    lines = [
        f"stack {p(doc['stack'])} (image {p(doc['image'])})",
        f"{'NODE':<20} {'ACTION':<10} {'GROUP':<12} {'VRID':>4} {'PRIO':>4}  PEERS",
    ]
    for node in doc["nodes"]:
        for inst in node["instances"]:
            lines.append(
                f"{p(node['hostname']):<20} {node['action']:<10} {p(inst['group']):<12} "
                f"{inst['vrid']:>4} {inst['priority']:>4}  {p(', '.join(inst['peers']))}"
            )
    lines += [f"{p(name):<20} remove" for name in doc["remove"]]
    count = len(doc["actions"])
    lines.append(f"{count} change(s)" if count else "no changes")
    return "\n".join(lines)

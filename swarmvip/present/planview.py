"""Present a prepared deploy: a JSON-able document and a human table, per node, and per VIP
group its expected holder and its order (priorities, highest first). Pure."""

from __future__ import annotations

from typing import Any, Protocol

from swarmvip.model import HOOK_TIMEOUT, HookArgs, InstancePlan, Plan
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
    @property
    def ranked(self) -> Plan | None: ...  # the plan by the labels; None: `plan` is it


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
                        "options": options_document(i),
                    }
                    for i in n.instances
                ],
            }
            for n in plan.nodes
        ],
        # ranked by the labels: a holder kept as it runs may carry a configured priority
        # that is not the one it runs (a runtime change), and would rank wrongly
        "groups": group_documents(prepared.ranked or plan),
        "remove": removed,
        "actions": [a.describe() for a in prepared.actions],
        "warnings": list(plan.warnings),
    }


def options_document(inst: InstancePlan) -> dict[str, Any]:
    """The keepalived knobs of one instance (only garp keys that are set)."""
    garp = inst.options.garp
    return {
        "garp": {
            k: v
            for k, v in (
                ("delay", garp.delay),
                ("repeat", garp.repeat),
                ("refresh", garp.refresh),
                ("refresh_repeat", garp.refresh_repeat),
            )
            if v is not None
        },
        "track_interfaces": [
            {"name": t.name, "weight": t.weight} for t in inst.options.track_interfaces
        ],
        "interface": None if inst.options.interface is None else str(inst.options.interface),
        "notify_args": str(inst.notify.args),
        "hook_timeout": inst.notify.timeout,
    }


def knobs_line(options: dict[str, Any]) -> str:
    """The knobs that are set, on one line ("" when none is): garp, tracked NICs, the VIP NIC,
    notify arguments and hook timeout when not the defaults."""
    parts = []
    if options["garp"]:
        units = {"delay": "s", "refresh": "s"}
        garp = " ".join(f"{k}={v}{units.get(k, '')}" for k, v in options["garp"].items())
        parts.append(f"garp {garp}")
    if options["track_interfaces"]:
        tracked = ", ".join(
            t["name"] + (f" weight {t['weight']}" if t["weight"] else "")
            for t in options["track_interfaces"]
        )
        parts.append(f"track_interfaces {tracked}")
    if options["interface"]:
        parts.append(f"interface {options['interface']}")
    if options["notify_args"] != str(HookArgs.NONE) or options["hook_timeout"] != HOOK_TIMEOUT:
        parts.append(f"notify args={options['notify_args']} timeout={options['hook_timeout']:g}s")
    return "; ".join(parts)


def group_documents(plan: Plan) -> list[dict[str, Any]]:
    """Per group (by name): its members by planned priority, highest first, and the expected
    holder, the first of them: drained nodes have the lowest priorities, so it is the best node
    that is not drained (a group whose every member is drained is still held by its best)."""
    members: dict[str, list[dict[str, Any]]] = {}
    vrids: dict[str, int] = {}
    for n in plan.nodes:
        for i in n.instances:
            vrids[i.group] = i.vrid
            members.setdefault(i.group, []).append(
                {"hostname": n.hostname, "node_id": n.node_id, "priority": i.priority}
            )
    docs = []
    for group in sorted(members):
        order = sorted(members[group], key=lambda m: (-m["priority"], m["node_id"]))
        docs.append(
            {
                "group": group,
                "vrid": vrids[group],
                "expected_holder": order[0]["hostname"],
                "expected_holder_id": order[0]["node_id"],
                "order": order,
            }
        )
    return docs


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
    knobs = {
        inst["group"]: line
        for node in doc["nodes"]
        for inst in node["instances"]
        if "options" in inst and (line := knobs_line(inst["options"]))
    }
    lines += [f"{p(group):<12} knobs: {p(line)}" for group, line in sorted(knobs.items())]
    if doc.get("groups"):
        lines.append(f"{'GROUP':<12} {'VRID':>4}  {'EXPECTED HOLDER':<20} ORDER (PRIORITY)")
    for group in doc.get("groups", ()):
        order = ", ".join(f"{p(m['hostname'])} {m['priority']}" for m in group["order"])
        lines.append(
            f"{p(group['group']):<12} {group['vrid']:>4}  {p(group['expected_holder']):<20} {order}"
        )
    count = len(doc["actions"])
    lines.append(f"{count} change(s)" if count else "no changes")
    return "\n".join(lines)

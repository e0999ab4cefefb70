"""Build the Plan: eligible nodes per group, priorities (all groups of the stack at once, so
their holders spread: plan.priorities), VRIDs, unicast peers. Pure."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from swarmvip.errors import ConfigError, Problem
from swarmvip.model import (
    InstancePlan,
    Node,
    NodePlan,
    NodeSettings,
    Plan,
    StackSpec,
    VipGroup,
)
from swarmvip.plan.constraints import matches_all
from swarmvip.plan.node_labels import node_settings, valid_hostname
from swarmvip.plan.priorities import Ranked, stack_priorities
from swarmvip.plan.vrids import VridConflict, allocate_vrids
from swarmvip.wire.keys import NODE_UNICAST, NODE_UNICAST6


@dataclass(frozen=True, slots=True)
class Member:
    """A node that runs one group, with its validated settings and its unicast source."""

    node: Node
    settings: NodeSettings
    unicast: str


def _unicast(node: Node, settings: NodeSettings, family: int) -> str | None:
    override = settings.unicast6 if family == 6 and settings.unicast6 else settings.unicast
    if override is not None and override.version == family:
        return str(override)
    if "%" in node.addr:  # an IPv6 scope id may hold any text: never rendered
        return None
    try:
        addr = ipaddress.ip_address(node.addr)
    except ValueError:
        return None
    return str(addr) if addr.version == family and not addr.is_unspecified else None


def _hostname_problem(group: VipGroup, node: Node, file: str) -> Problem:
    """A member's hostname becomes keepalived's router_id (and shows in plans and status).

    Refused rather than sanitized: the hostname is also how status, converge and the service
    names identify a node, so a rewritten copy would disagree with what the swarm reports,
    and a hostname outside RFC 1123 characters is a misconfiguration (or an attack) to fix.
    """
    return Problem(
        file=file,
        key=f"x-swarmvip.vips.{group.name}",
        message=(
            f"node {node.id} has hostname {node.hostname!r}, which is not a valid host name"
            " (letters, digits, '.', '-', '_'; at most 253)"
        ),
        fix="rename the host (hostnamectl set-hostname NAME, then restart docker),"
        " or keep it out of this group with placement constraints",
    )


def _members(
    group: VipGroup, nodes: Sequence[Node], file: str, problems: list[Problem]
) -> list[Member]:
    members = []
    for node in nodes:
        if not matches_all(node, group.constraints):
            continue
        if not valid_hostname(node.hostname):
            problems.append(_hostname_problem(group, node, file))
            continue
        settings, label_problems = node_settings(node, group.name)
        problems.extend(label_problems)
        unicast = _unicast(node, settings, group.family)
        if unicast is None:
            label = NODE_UNICAST6 if group.family == 6 else NODE_UNICAST
            problems.append(
                Problem(
                    file=file,
                    key=f"x-swarmvip.vips.{group.name}",
                    message=f"node {node.hostname} has no IPv{group.family} address for VRRP",
                    fix=f"docker node update --label-add {label}=ADDRESS {node.hostname}",
                )
            )
            continue
        members.append(Member(node, settings, unicast))
    return members


def _check_group(
    group: VipGroup, members: list[Member], file: str, problems: list[Problem], warnings: list[str]
) -> None:
    key = f"x-swarmvip.vips.{group.name}"
    if not members:
        shown = ", ".join(map(str, group.constraints)) or "(none)"
        problems.append(
            Problem(
                file=file,
                key=f"{key}.placement",
                message=(f"no eligible node (constraints: {shown})"),
                fix="label nodes to match, e.g. docker node update --label-add edge=true NODE",
            )
        )
    elif len(members) == 1:
        warnings.append(
            f"{key}: only {members[0].node.hostname} is eligible: the VIP has no"
            " failover (no HA) until another node matches"
        )
    warnings.extend(f"{key}.addresses: {w}" for w in outside_member_subnets(group, members))
    node_ips = {m.unicast: m.node.hostname for m in members}
    for addr in group.addresses:
        if str(addr.ip) in node_ips:
            problems.append(
                Problem(
                    file=file,
                    key=f"{key}.addresses",
                    message=(f"{addr.ip} is the address of node {node_ips[str(addr.ip)]}"),
                    fix="a VIP must be a free address in the nodes' subnet",
                )
            )


# Swarm reports each node's address, never its subnet: a VIP counts as near a member when the
# member's address is in the VIP's own network (address/prefix as written) or in the same
# /24 (IPv4) or /64 (IPv6), the most common subnet sizes.
NEAR_PREFIX = {4: 24, 6: 64}


def outside_member_subnets(group: VipGroup, members: Sequence[Member]) -> list[str]:
    """Warnings (a heuristic) for each VIP near no member's address: on a real network the
    agent would put that address, and a connected route to its network, on the members' NICs
    (a copied example's address, or a typo)."""
    found = []
    for addr in group.addresses:
        own = addr.network
        near = ipaddress.ip_interface(f"{addr.ip}/{NEAR_PREFIX[addr.version]}").network
        nearby = [
            m
            for m in members
            if (ip := ipaddress.ip_address(m.unicast)).version == addr.version
            and (ip in own or ip in near)
        ]
        if members and not nearby:
            shown = ", ".join(f"{m.node.hostname} {m.unicast}" for m in members[:3])
            more = f" and {len(members) - 3} more" if len(members) > 3 else ""
            found.append(
                f"{addr} looks outside every member's subnet ({shown}{more}): no member"
                f" address is in {own} or the same /{NEAR_PREFIX[addr.version]}; the agent"
                f" would add it, and a route to {own}, to their interfaces. Use a free"
                " address in the nodes' subnet (a heuristic: the swarm reports node addresses,"
                " not subnets)"
            )
    return found


def _instances(
    group: VipGroup, vrid: int, members: list[Member], priorities: Mapping[str, int]
) -> dict[str, InstancePlan]:
    unicasts = [m.unicast for m in members]
    return {
        m.node.id: InstancePlan(
            group=group.name,
            vrid=vrid,
            priority=priorities[m.node.id],
            preemption=group.preemption,
            preempt_delay=group.preempt_delay,
            timers=group.timers,
            unicast_src=m.unicast,
            peers=tuple(u for u in unicasts if u != m.unicast),
            addresses=group.addresses,
            checks=group.checks,
            notify=group.notify,
            auth_secret=group.auth_secret,
            options=group.options,
        )
        for m in members
    }


def build_plan(
    spec: StackSpec,
    stack: str,
    nodes: Sequence[Node],
    used_vrids: Mapping[int, str] | None = None,
    current_vrids: Mapping[str, int] | None = None,
) -> Plan:
    """The desired VIP layer, or ConfigError listing every problem (labels included)."""
    problems: list[Problem] = []
    warnings: list[str] = []
    ordered = sorted(nodes, key=lambda n: (n.hostname, n.id))
    try:
        vrids = allocate_vrids(
            stack, {g.name: g.vrid for g in spec.groups}, used_vrids or {}, current_vrids
        )
    except VridConflict as exc:
        raise ConfigError(
            [
                Problem(
                    file=spec.path,
                    key="x-swarmvip.vips",
                    message=str(exc),
                    fix="pick another vrid or leave it out",
                )
            ]
        ) from exc
    members: dict[str, list[Member]] = {}
    for group in spec.groups:
        members[group.name] = _members(group, ordered, spec.path, problems)
        _check_group(group, members[group.name], spec.path, problems, warnings)
    priorities, conflicts = stack_priorities(
        stack,
        {
            name: [
                Ranked(m.node.id, m.node.hostname, m.settings.priority, m.settings.drain)
                for m in group_members
            ]
            for name, group_members in members.items()
        },
    )
    per_node: dict[str, list[InstancePlan]] = {}
    settings: dict[str, Member] = {}
    for group in spec.groups:
        if group.name in conflicts:
            problems.append(
                Problem(
                    file=spec.path,
                    key=f"x-swarmvip.vips.{group.name}",
                    message=str(conflicts[group.name]),
                    fix="give each node its own priority label",
                )
            )
            continue
        group_members = members[group.name]
        instances = _instances(group, vrids[group.name], group_members, priorities[group.name])
        for node_id, inst in instances.items():
            per_node.setdefault(node_id, []).append(inst)
        settings.update({m.node.id: m for m in group_members})
    if problems:
        raise ConfigError(_unique(problems))
    node_plans = tuple(
        NodePlan(
            node_id=m.node.id,
            hostname=m.node.hostname,
            interface=m.settings.interface,
            unicast_src=m.unicast,
            instances=tuple(per_node[m.node.id]),
        )
        for m in sorted(settings.values(), key=lambda m: (m.node.hostname, m.node.id))
    )
    return Plan(
        stack=stack,
        image=spec.image,
        nodes=node_plans,
        warnings=tuple(warnings),
        stop_grace_period=spec.stop_grace_period,
    )


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))

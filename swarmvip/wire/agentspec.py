"""The per-node agent spec: a NodePlan as versioned JSON, shipped to each task as a swarm config.

Pure and stdlib-only, because the agent image carries no Jinja2, YAML or Docker SDK.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from swarmvip.model import (
    HOOK_TIMEOUT,
    CheckKind,
    Garp,
    HealthCheck,
    HookArgs,
    InstanceOptions,
    InstancePlan,
    NodePlan,
    NotifyHooks,
    Preemption,
    Timers,
    TrackedInterface,
    VipInterface,
)

SCHEMA = 1


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """What one keepalived task is told: its stack and its node's plan."""

    stack: str
    node: NodePlan


def _check_to_json(check: HealthCheck) -> dict[str, Any]:
    return {
        "name": check.name,
        "kind": str(check.kind),
        "target": check.target,
        "argv": list(check.argv),
        "expect_status": check.expect_status,
        "interval": check.interval,
        "timeout": check.timeout,
        "fall": check.fall,
        "rise": check.rise,
        "weight": check.weight,
    }


def _options_to_json(options: InstanceOptions) -> dict[str, Any]:
    garp = options.garp
    iface = options.interface
    return {
        "garp": {
            "delay": garp.delay,
            "repeat": garp.repeat,
            "refresh": garp.refresh,
            "refresh_repeat": garp.refresh_repeat,
        },
        "track_interfaces": [
            {"name": t.name, "weight": t.weight} for t in options.track_interfaces
        ],
        "interface": None
        if iface is None
        else {"name": iface.name, "network": None if iface.network is None else str(iface.network)},
    }


def _options_from_json(doc: dict[str, Any] | None) -> InstanceOptions:
    """The options of an instance; absent (an agent.json written before them): none."""
    if not doc:
        return InstanceOptions()
    garp, iface = doc["garp"], doc["interface"]
    return InstanceOptions(
        garp=Garp(
            delay=garp["delay"],
            repeat=garp["repeat"],
            refresh=garp["refresh"],
            refresh_repeat=garp["refresh_repeat"],
        ),
        track_interfaces=tuple(
            TrackedInterface(t["name"], int(t["weight"])) for t in doc["track_interfaces"]
        ),
        interface=None
        if iface is None
        else VipInterface(
            name=iface["name"],
            network=None if iface["network"] is None else ipaddress.ip_network(iface["network"]),
        ),
    )


def _instance_to_json(inst: InstancePlan) -> dict[str, Any]:
    return {
        "group": inst.group,
        "vrid": inst.vrid,
        "priority": inst.priority,
        "preemption": str(inst.preemption),
        "preempt_delay": inst.preempt_delay,
        "advert_int": inst.timers.advert_int,
        "vrrp_version": inst.timers.version,
        "unicast_src": inst.unicast_src,
        "peers": list(inst.peers),
        "addresses": [a.with_prefixlen for a in inst.addresses],
        "checks": [_check_to_json(c) for c in inst.checks],
        "notify": {
            "master": list(inst.notify.master),
            "backup": list(inst.notify.backup),
            "fault": list(inst.notify.fault),
            "args": str(inst.notify.args),
            "timeout": inst.notify.timeout,
        },
        "auth_secret": inst.auth_secret,
        "options": _options_to_json(inst.options),
    }


def to_json(spec: AgentSpec) -> str:
    node = spec.node
    doc = {
        "schema": SCHEMA,
        "stack": spec.stack,
        "node": {
            "id": node.node_id,
            "hostname": node.hostname,
            "interface": node.interface,
            "unicast_src": node.unicast_src,
        },
        "instances": [_instance_to_json(i) for i in node.instances],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _check_from_json(doc: dict[str, Any]) -> HealthCheck:
    return HealthCheck(
        name=doc["name"],
        kind=CheckKind(doc["kind"]),
        target=doc["target"],
        argv=tuple(doc["argv"]),
        expect_status=int(doc["expect_status"]),
        interval=float(doc["interval"]),
        timeout=float(doc["timeout"]),
        fall=int(doc["fall"]),
        rise=int(doc["rise"]),
        weight=int(doc["weight"]),
    )


def _instance_from_json(doc: dict[str, Any]) -> InstancePlan:
    notify = doc["notify"]
    return InstancePlan(
        group=doc["group"],
        vrid=int(doc["vrid"]),
        priority=int(doc["priority"]),
        preemption=Preemption(doc["preemption"]),
        preempt_delay=float(doc["preempt_delay"]),
        timers=Timers(advert_int=float(doc["advert_int"]), version=doc["vrrp_version"]),
        unicast_src=doc["unicast_src"],
        peers=tuple(doc["peers"]),
        addresses=tuple(ipaddress.ip_interface(a) for a in doc["addresses"]),
        checks=tuple(_check_from_json(c) for c in doc["checks"]),
        notify=NotifyHooks(
            master=tuple(notify["master"]),
            backup=tuple(notify["backup"]),
            fault=tuple(notify["fault"]),
            args=HookArgs(notify.get("args", "none")),
            timeout=float(notify.get("timeout", HOOK_TIMEOUT)),
        ),
        auth_secret=doc["auth_secret"],
        options=_options_from_json(doc.get("options")),
    )


def from_json(text: str) -> AgentSpec:
    """Parse an agent spec; raises ValueError on a schema it does not know."""
    doc = json.loads(text)
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"agent spec schema {doc.get('schema')!r} is not {SCHEMA}")
    node = doc["node"]
    return AgentSpec(
        stack=doc["stack"],
        node=NodePlan(
            node_id=node["id"],
            hostname=node["hostname"],
            interface=node["interface"],
            unicast_src=node["unicast_src"],
            instances=tuple(_instance_from_json(i) for i in doc["instances"]),
        ),
    )

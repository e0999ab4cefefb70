"""A StackSpec back to its stack-file document, so a deployed stack can be re-planned. Pure.

`swarmvip deploy` stores this document in the swarm (a config labelled swarmvip.kind=spec);
drain, undrain and the controller read it back with the normal parser. Secrets read from files
become `external` references to the swarm secrets deploy created: no secret value is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swarmvip.model import (
    HOOK_TIMEOUT,
    AgentTask,
    CheckKind,
    HealthCheck,
    HookArgs,
    InstanceOptions,
    NotifyHooks,
    Preemption,
    StackSpec,
    VipGroup,
)


def _check(check: HealthCheck) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": check.name}
    if check.kind is CheckKind.COMMAND:
        doc["command"] = list(check.argv)
    else:
        doc[str(check.kind)] = check.target
    if check.kind is CheckKind.HTTP:
        doc["expect_status"] = check.expect_status
    doc |= {
        "interval": check.interval,
        "timeout": check.timeout,
        "fall": check.fall,
        "rise": check.rise,
        "weight": check.weight,
    }
    return doc


def _notify(notify: NotifyHooks) -> dict[str, Any]:
    doc: dict[str, Any] = {
        k: list(v)
        for k, v in (("master", notify.master), ("backup", notify.backup), ("fault", notify.fault))
        if v
    }
    if notify.args is not HookArgs.NONE:
        doc["args"] = str(notify.args)
    if notify.timeout != HOOK_TIMEOUT:
        doc["timeout"] = notify.timeout
    return doc


def _options(options: InstanceOptions) -> dict[str, Any]:
    """Only what was set: a stored spec of a stack without these keys stays as it was."""
    doc: dict[str, Any] = {}
    garp = {
        k: v
        for k, v in (
            ("delay", options.garp.delay),
            ("repeat", options.garp.repeat),
            ("refresh", options.garp.refresh),
            ("refresh_repeat", options.garp.refresh_repeat),
        )
        if v is not None
    }
    if garp:
        doc["garp"] = garp
    if options.track_interfaces:
        doc["track_interfaces"] = [
            t.name if t.weight == 0 else {"name": t.name, "weight": t.weight}
            for t in options.track_interfaces
        ]
    if options.interface is not None:
        doc["interface"] = str(options.interface)
    return doc


def _group(group: VipGroup) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "addresses": [a.with_prefixlen for a in group.addresses],
        "placement": {"constraints": [str(c) for c in group.constraints]},
        "preemption": str(group.preemption),
        "timers": {"advert_int": group.timers.advert_int, "version": group.timers.version},
    }
    if group.vrid is not None:
        doc["vrid"] = group.vrid
    if group.preemption is Preemption.PREFERRED and group.preempt_delay:
        doc["preempt_delay"] = group.preempt_delay
    if group.checks:
        doc["checks"] = [_check(c) for c in group.checks]
    hooks = _notify(group.notify)
    if hooks:
        doc["notify"] = hooks
    if group.auth_secret:
        doc["auth_secret"] = group.auth_secret
    return doc | _options(group.options)


def _agent(agent: AgentTask) -> dict[str, Any]:
    """x-swarmvip.agent in long syntax (modes in octal); empty when it has nothing."""
    doc: dict[str, Any] = {}
    if agent.environment:
        doc["environment"] = dict(agent.environment)
    for key, mounts in (("secrets", agent.secrets), ("configs", agent.configs)):
        if mounts:
            doc[key] = [
                {"source": m.source, "target": m.target, "mode": f"0{m.mode:o}"} for m in mounts
            ]
    if agent.volumes:
        doc["volumes"] = [
            {"type": "bind", "source": b.source, "target": b.target, "read_only": True}
            for b in agent.volumes
        ]
    return doc


def spec_document(
    spec: StackSpec,
    secret_objects: Mapping[str, str],
    config_objects: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """secret_objects: {secret key in the file: swarm secret name to mount}; config_objects:
    the same for x-swarmvip.agent's configs (default: the external names the spec has)."""
    doc: dict[str, Any] = {
        "x-swarmvip": {
            "image": spec.image,
            "stop_grace_period": spec.stop_grace_period,
            "vips": {g.name: _group(g) for g in spec.groups},
        }
    }
    agent = _agent(spec.agent)
    if agent:
        doc["x-swarmvip"]["agent"] = agent
    if secret_objects:
        doc["secrets"] = {k: {"external": True, "name": v} for k, v in secret_objects.items()}
    configs = {s.name: s.object or s.name for s in spec.agent.config_sources}
    configs |= dict(config_objects or {})
    if configs:
        doc["configs"] = {k: {"external": True, "name": v} for k, v in configs.items()}
    return doc

"""A StackSpec back to its stack-file document, so a deployed stack can be re-planned. Pure.

`swarmvip deploy` stores this document in the swarm (a config labelled swarmvip.kind=spec);
drain, undrain and the controller read it back with the normal parser. Secrets read from files
become `external` references to the swarm secrets deploy created: no secret value is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swarmvip.model import CheckKind, HealthCheck, Preemption, StackSpec, VipGroup


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
    hooks = {
        k: list(v)
        for k, v in (
            ("master", group.notify.master),
            ("backup", group.notify.backup),
            ("fault", group.notify.fault),
        )
        if v
    }
    if hooks:
        doc["notify"] = hooks
    if group.auth_secret:
        doc["auth_secret"] = group.auth_secret
    return doc


def spec_document(spec: StackSpec, secret_objects: Mapping[str, str]) -> dict[str, Any]:
    """secret_objects: {secret key in the file: swarm secret name to mount}."""
    doc: dict[str, Any] = {
        "x-swarmvip": {
            "image": spec.image,
            "stop_grace_period": spec.stop_grace_period,
            "vips": {g.name: _group(g) for g in spec.groups},
        }
    }
    if secret_objects:
        doc["secrets"] = {k: {"external": True, "name": v} for k, v in secret_objects.items()}
    return doc

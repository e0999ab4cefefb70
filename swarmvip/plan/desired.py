"""Desired swarm objects for a Plan: one pinned service per node, its configs and secrets. Pure.

Names are content-addressed (configs, secrets) or derived from the node (services); every object
carries the stack namespace label so `docker stack ls/ps/rm` see it, plus swarmvip's own labels.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from swarmvip import paths
from swarmvip.model import (
    HASH_LABEL,
    NODE_LABEL,
    OWNER_LABEL,
    STACK_LABEL,
    STACK_NAMESPACE_LABEL,
    NodePlan,
    Plan,
    SecretSource,
)

CAPABILITIES = ("CAP_NET_ADMIN", "CAP_NET_RAW")
VRIDS_LABEL = "swarmvip.vrids"
PRIORITY_LABEL = "swarmvip.priority"
KIND_LABEL = "swarmvip.kind"
SPEC_MARK = "_vip-spec-"  # the stored stack spec's config name: <stack>_vip-spec-<hash>
STACK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")


@dataclass(frozen=True, slots=True)
class DesiredObject:
    """A swarm config or secret: immutable, so its name carries a hash of its data."""

    name: str
    data: bytes
    labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Mount:
    source: str  # config or secret name
    target: str  # path (config) or file name under /run/secrets (secret)


@dataclass(frozen=True, slots=True)
class DesiredService:
    name: str
    node_id: str
    hostname: str
    image: str
    configs: tuple[Mount, ...]
    secrets: tuple[Mount, ...]
    stop_grace_period: float
    labels: tuple[tuple[str, str], ...]
    top_priority: int

    @property
    def spec_hash(self) -> str:
        return dict(self.labels)[HASH_LABEL]


@dataclass(frozen=True, slots=True)
class DesiredState:
    stack: str
    services: tuple[DesiredService, ...]
    configs: tuple[DesiredObject, ...]
    secrets: tuple[DesiredObject, ...]
    external_secrets: tuple[str, ...]


def digest(data: bytes, length: int = 12) -> str:
    return hashlib.sha256(data).hexdigest()[:length]


def base_labels(stack: str, kind: str) -> tuple[tuple[str, str], ...]:
    return (
        (STACK_NAMESPACE_LABEL, stack),
        (OWNER_LABEL, "swarmvip"),
        (STACK_LABEL, stack),
        (KIND_LABEL, kind),
    )


def service_name(stack: str, hostname: str, node_id: str, taken: set[str]) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", hostname.lower()).strip("-")[:40] or "node"
    name = f"{stack}_vip-{slug}"
    return name if name not in taken else f"{name}-{node_id[:8].lower()}"


def _secret_objects(stack: str, secrets: tuple[SecretSource, ...]) -> dict[str, DesiredObject]:
    return {
        s.name: DesiredObject(
            name=f"{stack}_vrrp-{s.name}-{digest(s.data, 8)}"[:64],
            data=s.data,
            labels=base_labels(stack, "secret"),
        )
        for s in secrets
        if s.data is not None
    }


def _service(
    plan: Plan, node: NodePlan, name: str, configs: tuple[Mount, ...], secrets: tuple[Mount, ...]
) -> DesiredService:
    vrids = ",".join(f"{i.group}={i.vrid}" for i in node.instances)
    top = max(i.priority for i in node.instances)
    identity = json.dumps(
        [
            plan.image,
            node.node_id,
            [(m.source, m.target) for m in configs],
            [(m.source, m.target) for m in secrets],
            plan.stop_grace_period,
            CAPABILITIES,
        ],
        sort_keys=True,
    ).encode()
    labels = (
        *base_labels(plan.stack, "keepalived"),
        (NODE_LABEL, node.node_id),
        (VRIDS_LABEL, vrids),
        (PRIORITY_LABEL, str(top)),
        (HASH_LABEL, digest(identity)),
    )
    return DesiredService(
        name=name,
        node_id=node.node_id,
        hostname=node.hostname,
        image=plan.image,
        configs=configs,
        secrets=secrets,
        stop_grace_period=plan.stop_grace_period,
        labels=labels,
        top_priority=top,
    )


def secret_objects(stack: str, secrets: tuple[SecretSource, ...]) -> dict[str, str]:
    """{secret key in the stack file: the swarm secret mounted for it}."""
    made = {name: obj.name for name, obj in _secret_objects(stack, secrets).items()}
    return {s.name: made.get(s.name, s.object or s.name) for s in secrets}


def desired_state(
    plan: Plan,
    keepalived_confs: Mapping[str, str],
    agent_specs: Mapping[str, str],
    secrets: tuple[SecretSource, ...] = (),
    spec_text: str = "",
) -> DesiredState:
    """keepalived_confs / agent_specs: {node id: text}, rendered by the caller."""
    made = _secret_objects(plan.stack, secrets)
    sources = secret_objects(plan.stack, secrets)
    configs: dict[str, DesiredObject] = {}
    services = []
    taken: set[str] = set()
    for node in plan.nodes:
        mounts = []
        for kind, text, target in (
            ("kc", keepalived_confs[node.node_id], paths.KEEPALIVED_CONF),
            ("as", agent_specs[node.node_id], paths.AGENT_SPEC),
        ):
            data = text.encode()
            obj = DesiredObject(
                name=f"{plan.stack}_vip-{kind}-{digest(data)}",
                data=data,
                labels=base_labels(plan.stack, "config"),
            )
            configs[obj.name] = obj
            mounts.append(Mount(source=obj.name, target=target))
        used = sorted({i.auth_secret for i in node.instances if i.auth_secret})
        secret_mounts = tuple(Mount(source=sources.get(s, s), target=s) for s in used)
        name = service_name(plan.stack, node.hostname, node.node_id, taken)
        taken.add(name)
        services.append(_service(plan, node, name, tuple(mounts), secret_mounts))
    if spec_text:
        data = spec_text.encode()
        stored = DesiredObject(
            name=f"{plan.stack}{SPEC_MARK}{digest(data)}",
            data=data,
            labels=base_labels(plan.stack, "spec"),
        )
        configs[stored.name] = stored
    external = tuple(sorted({s.object or s.name for s in secrets if s.data is None}))
    return DesiredState(
        stack=plan.stack,
        services=tuple(services),
        configs=tuple(configs.values()),
        secrets=tuple(made.values()),
        external_secrets=external,
    )

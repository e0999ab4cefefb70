"""Desired swarm objects for a Plan: one pinned service per node, its configs and secrets. Pure.

Every object carries the docker stack namespace `<stack>-vip` (wire.keys.vip_namespace), so
`docker stack ls/ps/services <stack>-vip` see the VIP layer while the app stack's own
`docker stack deploy --prune` and `docker stack rm <stack>` never touch it, plus swarmvip's own
labels (`swarmvip.stack=<stack>`: every lookup of swarmvip's uses those). Every name is checked
against swarmkit's rules here, before anything is written: letters, digits, `-`, `_`, `.`,
starting and ending with a letter or digit, at most 63 characters for a service and 64 for a
config or secret.

Names:
* configs: `<stack>_vip-<kind>-<sha256(data)[:12]>`, content-addressed; a config of
  `x-swarmvip.agent` from a file: `<stack>_vip-cf-<key, cut to fit>-<sha256(data)[:12]>`;
* services: `<stack>_vip-<hostname slug>-<node id[:8]>`, a function of that node alone (never of
  the other nodes), the slug cut to fit 63 characters. A node whose hostname changes keeps its
  service: diff matches services by node id and an update always keeps the observed name
  (swarmkit refuses renames), so stacks deployed with older names keep them too;
* secrets made from a file: `<stack>_vrrp-<key, cut to fit>-<salt><tag>`, at most 64 characters
  with the 16 hex digits at the end never cut. `salt` is 8 random hex digits chosen by the
  caller (desired_state stays pure) and `tag` is PBKDF2-HMAC-SHA256(password, salt + key,
  100000 rounds)[:8 hex]. The name carries no unsalted hash of the password: no precomputed
  table applies, and each guess costs the 100000 rounds. (VRRPv2 PASS itself crosses the wire in
  cleartext in every advert: it authenticates peers against mistakes, it is no confidentiality.)
  Idempotence: SecretNaming.observed holds the stack's secret names in the swarm; a name whose
  salt and tag match this key and password is kept, so re-deploying the same file changes
  nothing, while a changed password matches no name and gets a new secret (the old one is
  removed once no service mounts it). A secret named by an older swarmvip
  (`-<sha256(password)[:8]>`) matches no salt: the next deploy from the file replaces it once.
  A file secret of `x-swarmvip.agent` (a token for a hook) is named and kept the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from swarmvip.errors import ConfigError, Problem
from swarmvip.model import AgentTask, NodePlan, Plan, SecretSource, TaskBind
from swarmvip.wire import paths
from swarmvip.wire.command import KEY_SECRET
from swarmvip.wire.keys import (
    HASH_LABEL,
    KIND_CONFIG,
    KIND_KEEPALIVED,
    KIND_LABEL,
    KIND_SECRET,
    KIND_SPEC,
    NODE_LABEL,
    OWNER,
    OWNER_LABEL,
    SERVICE_TOP_PRIORITY,
    SHAPE_LABEL,
    STACK_LABEL,
    STACK_NAMESPACE_LABEL,
    VRIDS_LABEL,
    vip_namespace,
)

CAPABILITIES = ("CAP_NET_ADMIN", "CAP_NET_RAW")  # added; every other capability is dropped
CAP_DROP = ("ALL",)
RUN_TMPFS_BYTES = 16 * 1024 * 1024  # a tmpfs on the agent's run dir: the password never hits disk
STOP_GRACE_ENV = paths.STOP_GRACE_ENV
SPEC_MARK = "_vip-spec-"  # the stored stack spec's config name: <stack>_vip-spec-<hash>
STACK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")
SWARM_NAME = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9_.-]*[a-zA-Z0-9])?$")  # swarmkit's rule
SERVICE_MAX = 63  # swarmkit: service names
OBJECT_MAX = 64  # swarmkit: config and secret names
SALT = re.compile(r"^[0-9a-f]{8}$")
SECRET_ROUNDS = 100_000
_SWARM_ID = re.compile(r"^[a-z0-9]{8,}$")
_SUFFIX = re.compile(r"^(?P<salt>[0-9a-f]{8})(?P<tag>[0-9a-f]{8})$")
_PRIORITY_LINE = re.compile(r"(?m)^(\s+priority )\d+$")
# The runtime channel: every task mounts the swarm-wide key and keeps its last command on a
# named volume of its node (wire.command, wire.paths.STATE_DIR).
CONTROL_KEY_MOUNT = KEY_SECRET


@dataclass(frozen=True, slots=True)
class DesiredObject:
    """A swarm config or secret: immutable, so its name changes with its data."""

    name: str
    data: bytes = field(repr=False)
    labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Mount:
    source: str  # config or secret name
    target: str  # path (config) or file name under /run/secrets, or a path (secret)
    mode: int | None = None  # None: the agent's own (config 0444, secret 0400)


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
    env: tuple[str, ...] = ()  # x-swarmvip.agent.environment, KEY=VALUE
    binds: tuple[TaskBind, ...] = ()  # x-swarmvip.agent.volumes, read-only
    state_volume: str = ""  # the named volume on STATE_DIR (runtime priorities)

    @property
    def spec_hash(self) -> str:
        return dict(self.labels)[HASH_LABEL]

    @property
    def shape_hash(self) -> str:
        return dict(self.labels).get(SHAPE_LABEL, "")


@dataclass(frozen=True, slots=True)
class DesiredState:
    stack: str
    services: tuple[DesiredService, ...]
    configs: tuple[DesiredObject, ...]
    secrets: tuple[DesiredObject, ...]
    external_secrets: tuple[str, ...]
    external_configs: tuple[str, ...] = ()  # x-swarmvip.agent's, that must exist


@dataclass(frozen=True, slots=True)
class SecretNaming:
    """How file secrets are named (see the module docstring).

    salt: 8 random hex digits from the caller, used for a secret that has no matching name in
    `observed` (the names of the stack's secrets in the swarm now).
    """

    salt: str
    observed: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not SALT.fullmatch(self.salt):
            raise ValueError("SecretNaming.salt must be 8 lowercase hex digits")


def digest(data: bytes, length: int = 12) -> str:
    return hashlib.sha256(data).hexdigest()[:length]


def base_labels(stack: str, kind: str) -> tuple[tuple[str, str], ...]:
    return (
        (STACK_NAMESPACE_LABEL, vip_namespace(stack)),
        (OWNER_LABEL, OWNER),
        (STACK_LABEL, stack),
        (KIND_LABEL, kind),
    )


def checked_name(stack: str, name: str, kind: str) -> str:
    """`name` if swarmkit accepts it for a `kind` (service, config, secret), else ConfigError."""
    limit = SERVICE_MAX if kind == "service" else OBJECT_MAX
    if len(name) <= limit and SWARM_NAME.fullmatch(name):
        return name
    raise ConfigError(
        [
            Problem(
                file=f"stack {stack}",
                key=f"{kind} name",
                message=f"{name!r} is not a valid swarm {kind} name (at most {limit} letters,"
                " digits, '-', '_' or '.', starting and ending with a letter or digit)",
                fix="use a stack name (--stack) of lowercase letters, digits, - and _",
            )
        ]
    )


def service_name(stack: str, hostname: str, node_id: str) -> str:
    """`<stack>_vip-<slug>-<id8>`: depends on this node only, at most 63 characters."""
    ident = node_id[:8] if _SWARM_ID.fullmatch(node_id) else digest(node_id.encode(), 8)
    budget = SERVICE_MAX - len(f"{stack}_vip-") - len(f"-{ident}")
    slug = re.sub(r"[^a-z0-9-]+", "-", hostname.lower()).strip("-")[:budget].strip("-")
    return checked_name(stack, f"{stack}_vip-{slug or 'node'}-{ident}", "service")


@lru_cache(maxsize=64)
def secret_tag(salt: str, key: str, data: bytes) -> str:
    """8 hex digits of PBKDF2-HMAC-SHA256 over the password, salted with salt and key."""
    mac = hashlib.pbkdf2_hmac("sha256", data, f"{salt}\0{key}".encode(), SECRET_ROUNDS)
    return mac.hex()[:8]


def _secret_prefix(stack: str, key: str) -> str:
    budget = OBJECT_MAX - len(f"{stack}_vrrp-") - len("-") - 16
    return f"{stack}_vrrp-{key[:budget]}-"


def secret_name(stack: str, key: str, data: bytes, naming: SecretNaming) -> str:
    """The swarm secret for file secret `key` (see the module docstring)."""
    prefix = _secret_prefix(stack, key)
    salt = naming.salt
    for name in sorted(n for n in naming.observed if n.startswith(prefix)):
        found = _SUFFIX.fullmatch(name[len(prefix) :])
        if found and secret_tag(found["salt"], key, data) == found["tag"]:
            salt = found["salt"]
            break
    return checked_name(stack, f"{prefix}{salt}{secret_tag(salt, key, data)}", "secret")


def _secret_objects(
    stack: str, secrets: Collection[SecretSource], naming: SecretNaming | None
) -> dict[str, DesiredObject]:
    made = {}
    for s in secrets:
        if s.data is None:
            continue
        if naming is None:
            raise ValueError("secrets from files need a SecretNaming (a salt from the caller)")
        made[s.name] = DesiredObject(
            name=secret_name(stack, s.name, s.data, naming),
            data=s.data,
            labels=base_labels(stack, KIND_SECRET),
        )
    return made


def state_volume(stack: str) -> str:
    """The named volume a stack's tasks keep their runtime priorities on (one per node)."""
    return f"{stack}_vip-state"


def shape_of_config(kind: str, text: str) -> str:
    """A config's digest with its priorities left out: `priority N` lines of keepalived.conf,
    the instances' `priority` of agent.json (the only places a priority is written)."""
    if kind == "as":
        doc = json.loads(text)
        for inst in doc.get("instances", []):
            inst["priority"] = 0
        text = json.dumps(doc, sort_keys=True)
    else:
        text = _PRIORITY_LINE.sub(r"\1_", text)
    return digest(text.encode())


def _mounted_as(mounts: tuple[Mount, ...]) -> list[tuple[str | int, ...]]:
    """A mount's part of the spec hash: the agent's own keep their (source, target) hash."""
    return [
        (m.source, m.target) if m.mode is None else (m.source, m.target, m.mode) for m in mounts
    ]


def _service(
    plan: Plan,
    node: NodePlan,
    name: str,
    configs: tuple[Mount, ...],
    secrets: tuple[Mount, ...],
    agent: AgentTask,
    shapes: Mapping[str, str],
) -> DesiredService:
    """shapes: {config name: its shape digest} of the node's own configs (shape_of_config)."""
    vrids = ",".join(f"{i.group}={i.vrid}" for i in node.instances)
    top = max(i.priority for i in node.instances)
    env = tuple(f"{k}={v}" for k, v in agent.environment)
    extra = [list(env), [(b.source, b.target) for b in agent.volumes]]
    volume = state_volume(plan.stack)

    def identity(config_mounts: list[tuple[str | int, ...]]) -> bytes:
        return json.dumps(
            [
                plan.image,
                node.node_id,
                config_mounts,
                _mounted_as(secrets),
                plan.stop_grace_period,
                CAPABILITIES,
                CAP_DROP,
                RUN_TMPFS_BYTES,
                STOP_GRACE_ENV,
                *([extra] if env or agent.volumes else []),  # without: the hash stays as it was
                ["runtime", volume, paths.STATE_DIR],
            ],
            sort_keys=True,
        ).encode()

    shaped = _mounted_as(tuple(Mount(shapes.get(m.source, m.source), m.target) for m in configs))
    labels = (
        *base_labels(plan.stack, KIND_KEEPALIVED),
        (NODE_LABEL, node.node_id),
        (VRIDS_LABEL, vrids),
        (SERVICE_TOP_PRIORITY, str(top)),
        (HASH_LABEL, digest(identity(_mounted_as(configs)))),
        (SHAPE_LABEL, digest(identity(shaped))),
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
        env=env,
        binds=agent.volumes,
        state_volume=volume,
    )


def secret_objects(
    stack: str, secrets: Collection[SecretSource], naming: SecretNaming | None = None
) -> dict[str, str]:
    """{secret key in the stack file: the swarm secret mounted for it}. naming: required when
    a secret comes from a file."""
    made = {name: obj.name for name, obj in _secret_objects(stack, secrets, naming).items()}
    return {s.name: made.get(s.name, s.object or s.name) for s in secrets}


def _config(stack: str, name: str, data: bytes, kind: str) -> DesiredObject:
    return DesiredObject(checked_name(stack, name, "config"), data, base_labels(stack, kind))


def _agent_configs(stack: str, sources: Collection[SecretSource]) -> dict[str, DesiredObject]:
    """x-swarmvip.agent's configs from files: `<stack>_vip-cf-<key, cut>-<sha256[:12]>`."""
    made = {}
    for s in sources:
        if s.data is not None:
            budget = OBJECT_MAX - len(f"{stack}_vip-cf-") - 1 - 12
            name = f"{stack}_vip-cf-{s.name[:budget]}-{digest(s.data)}"
            made[s.name] = _config(stack, name, s.data, KIND_CONFIG)
    return made


def config_objects(stack: str, sources: Collection[SecretSource]) -> dict[str, str]:
    """{config key in the stack file: the swarm config mounted for it} (x-swarmvip.agent)."""
    made = {name: obj.name for name, obj in _agent_configs(stack, sources).items()}
    return {s.name: made.get(s.name, s.object or s.name) for s in sources}


def _agent_mounts(
    agent: AgentTask, secrets: Mapping[str, str], configs: Mapping[str, str]
) -> tuple[tuple[Mount, ...], tuple[Mount, ...]]:
    """(configs, secrets) x-swarmvip.agent mounts into every task; a secret straight in
    /run/secrets is named by its file name there, as the auth secrets are."""
    prefix = paths.SECRETS_DIR + "/"
    return (
        tuple(Mount(configs[m.source], m.target, m.mode) for m in agent.configs),
        tuple(
            Mount(secrets[m.source], m.target.removeprefix(prefix), m.mode)
            if m.target.startswith(prefix) and "/" not in m.target.removeprefix(prefix)
            else Mount(secrets[m.source], m.target, m.mode)
            for m in agent.secrets
        ),
    )


def desired_state(
    plan: Plan,
    keepalived_confs: Mapping[str, str],
    agent_specs: Mapping[str, str],
    secrets: tuple[SecretSource, ...] = (),
    spec_text: str = "",
    naming: SecretNaming | None = None,
    agent: AgentTask | None = None,
) -> DesiredState:
    """keepalived_confs / agent_specs: {node id: text}, rendered by the caller. naming: how
    secrets from files are named (module docstring); required when there is one. agent:
    x-swarmvip.agent (its secrets' sources are in `secrets`)."""
    agent = agent or AgentTask()
    made = _secret_objects(plan.stack, secrets, naming)
    sources = {s.name: made[s.name].name if s.name in made else s.object or s.name for s in secrets}
    agent_configs = _agent_configs(plan.stack, agent.config_sources)
    extra_configs, extra_secrets = _agent_mounts(
        agent, sources, config_objects(plan.stack, agent.config_sources)
    )
    configs: dict[str, DesiredObject] = {c.name: c for c in agent_configs.values()}
    services: dict[str, DesiredService] = {}
    for node in plan.nodes:
        mounts = []
        shapes = {}
        for kind, text, target in (
            ("kc", keepalived_confs[node.node_id], paths.KEEPALIVED_CONF),
            ("as", agent_specs[node.node_id], paths.AGENT_SPEC),
        ):
            data = text.encode()
            obj = _config(plan.stack, f"{plan.stack}_vip-{kind}-{digest(data)}", data, KIND_CONFIG)
            configs[obj.name] = obj
            shapes[obj.name] = f"{kind}-shape-{shape_of_config(kind, text)}"
            mounts.append(Mount(source=obj.name, target=target))
        used = sorted({i.auth_secret for i in node.instances if i.auth_secret})
        secret_mounts = (
            *(Mount(source=sources.get(s, s), target=s) for s in used),
            Mount(source=KEY_SECRET, target=CONTROL_KEY_MOUNT),
        )
        name = service_name(plan.stack, node.hostname, node.node_id)
        if name in services:
            raise _same_name(plan.stack, name, services[name], node)
        services[name] = _service(
            plan,
            node,
            name,
            (*mounts, *extra_configs),
            (*secret_mounts, *extra_secrets),
            agent,
            shapes,
        )
    if spec_text:
        data = spec_text.encode()
        stored = _config(plan.stack, f"{plan.stack}{SPEC_MARK}{digest(data)}", data, KIND_SPEC)
        configs[stored.name] = stored
    # (the runtime key is mounted too, but it is the swarm's, not the stack's: never removed)
    external = tuple(sorted({s.object or s.name for s in secrets if s.data is None}))
    return DesiredState(
        stack=plan.stack,
        services=tuple(services.values()),
        configs=tuple(configs.values()),
        secrets=tuple(made.values()),
        external_secrets=external,
        external_configs=tuple(
            sorted({s.object or s.name for s in agent.config_sources if s.data is None})
        ),
    )


def _same_name(stack: str, name: str, first: DesiredService, node: NodePlan) -> ConfigError:
    """Two node ids that agree on their first 8 characters (astronomically rare)."""
    return ConfigError(
        [
            Problem(
                file=f"stack {stack}",
                key="service name",
                message=f"nodes {first.node_id} and {node.node_id} would both run {name!r}",
                fix=f"rename one of the hosts {first.hostname}, {node.hostname}",
            )
        ]
    )

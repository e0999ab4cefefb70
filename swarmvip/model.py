"""Plain, immutable values shared by every layer: the stack spec, observed nodes, the plan.

Nothing here does I/O, and no raw Docker dict ever reaches these types: adapters convert.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Preemption(StrEnum):
    """sticky = nopreempt (the holder keeps the VIP); preferred = the best node takes it back."""

    STICKY = "sticky"
    PREFERRED = "preferred"


class CheckKind(StrEnum):
    TCP = "tcp"
    HTTP = "http"
    COMMAND = "command"


@dataclass(frozen=True, slots=True)
class Timers:
    """VRRP timing: advert_int in seconds; VRRPv3 is needed below one second."""

    advert_int: float = 1.0
    version: Literal[2, 3] = 2


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """A health check the agent runs on its node; failing lowers priority by |weight|.

    weight 0 means a failing check puts the instance into FAULT.
    target: "host:port" for tcp, a URL for http; argv for command.
    """

    name: str
    kind: CheckKind
    target: str = ""
    argv: tuple[str, ...] = ()
    expect_status: int = 200
    interval: float = 2.0
    timeout: float = 1.0
    fall: int = 2
    rise: int = 2
    weight: int = -50


class HookArgs(StrEnum):
    """What a notify hook gets after its own argv: nothing (the environment only), or
    keepalived's classic positional arguments TYPE NAME STATE PRIORITY."""

    NONE = "none"
    CLASSIC = "classic"


HOOK_TIMEOUT = 10.0  # seconds a notify hook may run before the agent kills it


@dataclass(frozen=True, slots=True)
class NotifyHooks:
    """argv run by the agent on a VRRP transition into that state (never through a shell)."""

    master: tuple[str, ...] = ()
    backup: tuple[str, ...] = ()
    fault: tuple[str, ...] = ()
    args: HookArgs = HookArgs.NONE
    timeout: float = HOOK_TIMEOUT


@dataclass(frozen=True, slots=True)
class Garp:
    """Gratuitous ARP / unsolicited NA of a master (keepalived garp_master_*); None = keepalived's
    default (delay 5 s, repeat 5, refresh 0 = never, refresh_repeat 1). Whole seconds."""

    delay: int | None = None
    repeat: int | None = None
    refresh: int | None = None
    refresh_repeat: int | None = None


@dataclass(frozen=True, slots=True)
class TrackedInterface:
    """An interface keepalived watches: down lowers priority by |weight|, or FAULT at 0."""

    name: str
    weight: int = 0


@dataclass(frozen=True, slots=True)
class VipInterface:
    """Which NIC carries a group's VIPs: by name, or the one with an address in `network`."""

    name: str | None = None
    network: IPNetwork | None = None

    def __str__(self) -> str:
        return self.name if self.name is not None else str(self.network)


@dataclass(frozen=True, slots=True)
class InstanceOptions:
    """keepalived knobs of one VRRP instance; the defaults render nothing."""

    garp: Garp = field(default_factory=Garp)
    track_interfaces: tuple[TrackedInterface, ...] = ()
    interface: VipInterface | None = None  # None: the VIPs go on the VRRP interface


@dataclass(frozen=True, slots=True)
class Constraint:
    """One Swarm placement constraint, e.g. node.labels.edge == true."""

    key: str
    operator: Literal["==", "!="]
    value: str

    def __str__(self) -> str:
        return f"{self.key} {self.operator} {self.value}"


@dataclass(frozen=True, slots=True)
class VipGroup:
    """One VRRP instance: addresses that move together between the selected nodes."""

    name: str
    addresses: tuple[IPInterface, ...]
    constraints: tuple[Constraint, ...] = ()
    vrid: int | None = None
    preemption: Preemption = Preemption.PREFERRED
    preempt_delay: float = 0.0
    timers: Timers = field(default_factory=Timers)
    checks: tuple[HealthCheck, ...] = ()
    notify: NotifyHooks = field(default_factory=NotifyHooks)
    auth_secret: str | None = None
    options: InstanceOptions = field(default_factory=InstanceOptions)

    @property
    def family(self) -> int:
        return self.addresses[0].version


@dataclass(frozen=True, slots=True)
class SecretSource:
    """A compose top-level secret used for VRRP auth: from a file (data) or external.

    name is the key in the stack file (and the file name under /run/secrets); object is the
    swarm secret to mount for an external one (compose `name:`, default: the key).
    """

    name: str
    data: bytes | None = None
    object: str | None = None


@dataclass(frozen=True, slots=True)
class TaskFile:
    """A secret or config of x-swarmvip.agent, mounted read-only into every keepalived task."""

    source: str  # its key in the file's top-level secrets: or configs:
    target: str  # absolute path in the task
    mode: int


@dataclass(frozen=True, slots=True)
class TaskBind:
    """A host path bind-mounted read-only into every keepalived task (x-swarmvip.agent)."""

    source: str  # absolute path on the node
    target: str  # absolute path in the task


@dataclass(frozen=True, slots=True)
class AgentTask:
    """x-swarmvip.agent: what every keepalived task gets for its hooks and checks.

    The secrets' sources are in StackSpec.secrets (deploy creates file ones as it does auth
    secrets); config_sources are the top-level configs used here (a SecretSource each: the same
    shape, data from a file or an external object's name).
    """

    environment: tuple[tuple[str, str], ...] = ()  # sorted by name
    secrets: tuple[TaskFile, ...] = ()
    configs: tuple[TaskFile, ...] = ()
    volumes: tuple[TaskBind, ...] = ()
    config_sources: tuple[SecretSource, ...] = ()


@dataclass(frozen=True, slots=True)
class StackSpec:
    """The validated x-swarmvip block of one stack file."""

    path: str
    image: str
    groups: tuple[VipGroup, ...]
    has_services: bool = False
    stop_grace_period: float = 10.0
    secrets: tuple[SecretSource, ...] = ()
    agent: AgentTask = field(default_factory=AgentTask)


class Role(StrEnum):
    MANAGER = "manager"
    WORKER = "worker"


@dataclass(frozen=True, slots=True)
class Node:
    """A swarm node as the cluster adapter observed it."""

    id: str
    hostname: str
    role: Role
    availability: str  # active | pause | drain
    state: str  # ready | down | unknown
    addr: str
    labels: tuple[tuple[str, str], ...] = ()
    engine_labels: tuple[tuple[str, str], ...] = ()
    os: str = ""  # Description.Platform.OS (constraint node.platform.os); "" when unknown
    arch: str = ""  # Description.Platform.Architecture (node.platform.arch); "" when unknown

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


@dataclass(frozen=True, slots=True)
class NodeSettings:
    """The validated swarmvip.* labels of one node."""

    priority: int | None = None
    interface: str | None = None
    unicast: IPAddress | None = None
    unicast6: IPAddress | None = None
    drain: bool = False


@dataclass(frozen=True, slots=True)
class InstancePlan:
    """One VRRP instance as it will run on one node."""

    group: str
    vrid: int
    priority: int
    preemption: Preemption
    preempt_delay: float
    timers: Timers
    unicast_src: str
    peers: tuple[str, ...]
    addresses: tuple[IPInterface, ...]
    checks: tuple[HealthCheck, ...]
    notify: NotifyHooks
    auth_secret: str | None
    options: InstanceOptions = field(default_factory=InstanceOptions)


@dataclass(frozen=True, slots=True)
class NodePlan:
    """Everything one node's keepalived task needs."""

    node_id: str
    hostname: str
    interface: str | None  # label override; None = the agent detects it
    unicast_src: str
    instances: tuple[InstancePlan, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """The desired VIP layer of one stack."""

    stack: str
    image: str
    nodes: tuple[NodePlan, ...]
    warnings: tuple[str, ...] = ()
    stop_grace_period: float = 10.0

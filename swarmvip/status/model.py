"""Status values: what `swarmvip status`, the TUI and drain show and decide on. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swarmvip.agent.report import Report
from swarmvip.model import Node, NodePlan

SCHEMA = 1


@dataclass(frozen=True, slots=True)
class DeployedNode:
    """One keepalived service as deployed: its stack, its task state and its node's plan."""

    stack: str
    service: str
    plan: NodePlan
    task_state: str = "unknown"  # running, pending, failed, ... from the swarm
    task_error: str = ""


@dataclass(frozen=True, slots=True)
class Observation:
    """Everything one refresh gathered; the fold turns it into a Snapshot."""

    now: float
    nodes: tuple[Node, ...] = ()
    deployed: tuple[DeployedNode, ...] = ()
    reports: tuple[Report, ...] = ()
    error: str | None = None  # the manager could not be reached: keep the last data, stale
    controller: dict[str, Any] | None = None  # the newest controller report line, if any


@dataclass(frozen=True, slots=True)
class Transition:
    """The holder set of one VIP changed."""

    at: float
    stack: str
    group: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    gap: float | None  # seconds with no holder; 0 if overlapping; None if unknown
    overlap: float = 0.0  # seconds with two holders during the handover


@dataclass(frozen=True, slots=True)
class Member:
    hostname: str
    node_id: str
    priority: int
    effective_priority: int | None  # None: not healthy (no fresh report, FAULT, down)
    vrrp_state: str


@dataclass(frozen=True, slots=True)
class VipStatus:
    stack: str
    name: str
    addresses: tuple[str, ...]
    vrid: int
    preemption: str
    members: tuple[Member, ...]
    holders: tuple[str, ...]
    expected_holder: str | None
    since: float | None
    last_transition: Transition | None
    history: tuple[Transition, ...] = ()


@dataclass(frozen=True, slots=True)
class NodeStatus:
    hostname: str
    node_id: str
    addr: str
    role: str
    availability: str
    state: str
    labels: tuple[tuple[str, str], ...]
    task_state: str  # worst task state of its keepalived services, "-" when none
    vrrp_states: tuple[tuple[str, str], ...]  # (stack/group, state)
    holds: tuple[str, ...]  # stack/group it holds
    report_age: float | None
    interface: str | None


@dataclass(frozen=True, slots=True)
class Alarm:
    kind: str  # split-brain, no-holder, unexpected-holder, stale-report, task-not-running, ...
    subject: str
    message: str
    severity: str = "critical"


@dataclass(frozen=True, slots=True)
class Snapshot:
    generated_at: float
    vips: tuple[VipStatus, ...] = ()
    nodes: tuple[NodeStatus, ...] = ()
    alarms: tuple[Alarm, ...] = ()
    error: str | None = None
    stale: bool = False
    controller: ControllerStatus | None = None


@dataclass(frozen=True, slots=True)
class ControllerStatus:
    """The controller as its own reports show it."""

    healthy: bool
    leader: str | None
    last_reconcile: float | None
    pending: int
    last_error: str | None
    age: float

"""Status values: what `swarmvip status`, the TUI and drain show and decide on. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from swarmvip.model import Node, NodePlan
from swarmvip.plan.moves import AgentRuntime
from swarmvip.wire.keys import VipKey
from swarmvip.wire.report import Report

SCHEMA = 1
STALE_AFTER = 3.0  # heartbeat intervals: an older report is stale (Clocks.fresh)
# heartbeat intervals: history counts a holder that went quiet this long as released when
# another node takes the VIP (it died without a word)
SILENT_AFTER = 1.5
Agent = tuple[str, str]  # (stack, node id)


@dataclass(frozen=True, slots=True)
class DeployedNode:
    """One keepalived service as deployed: its stack, its task state and its node's plan."""

    stack: str
    service: str
    plan: NodePlan
    task_state: str = "unknown"  # running, pending, failed, ... from the swarm
    task_error: str = ""
    note: str = ""  # why its plan could not be read (e.g. a newer agent.json schema); no instances
    spec: str = ""  # the service's spec hash (swarmvip.hash): the agents of its task report it


@dataclass(frozen=True, slots=True)
class Received:
    """One report and when it arrived, on the READER's wall clock (never the agent's)."""

    report: Report
    at: float


@dataclass(frozen=True, slots=True)
class Heard:
    """What the reader knows of one agent (stack, node id): its clock and its stream.

    offset: the agent's clock minus the reader's, estimated from arrivals (fold.py); None when
    nothing arrived from it yet. answered: False when its log stream did not answer in time
    (node paused, down or cut off), so nothing it said earlier counts as fresh. unreadable: the
    engine's error when its stream ended with it and no report ("node X is not available":
    after a raft leader election, until the node reconnects): its state is unknown, not absent.
    """

    stack: str
    node_id: str
    offset: float | None
    answered: bool = True
    unreadable: str = ""


@dataclass(frozen=True, slots=True)
class Observation:
    """Everything one refresh gathered; the fold turns it into a Snapshot."""

    now: float
    nodes: tuple[Node, ...] = ()
    deployed: tuple[DeployedNode, ...] = ()
    reports: tuple[Report, ...] = ()
    error: str | None = None  # the manager could not be reached: keep the last data, stale
    # why, for scripts (`status --json`): "no-leader" (the swarm has no raft leader),
    # "unavailable" (no engine answered), "error"; None without an error
    reason: str | None = None
    controller: dict[str, Any] | None = None  # the newest controller report line, if any
    heard: tuple[Heard, ...] = ()  # empty: no arrival data, the agents' clocks are trusted
    # who holds the write lease now (deploy@host, drain@host, a controller): a planned change
    # is being applied; None when no writer holds it (or the holder's lease expired)
    writer: str | None = None


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

    @property
    def key(self) -> VipKey:
        return VipKey(self.stack, self.group)


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
    partial: tuple[str, ...] = ()  # fresh nodes with some but not all of the addresses
    presence: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (address, fresh nodes it is on)
    holder_ids: tuple[str, ...] = ()  # node ids of `holders` (hostnames may repeat)
    # members whose reports the manager could not read (Heard.unreadable) on a node not down:
    # with no holder among the others, whether one of them holds it is unknown
    unknown: tuple[str, ...] = ()

    @property
    def key(self) -> VipKey:
        return VipKey(self.stack, self.name)


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
    # (stack, service spec hash) of each fresh report with keepalived running and every VRRP
    # instance MASTER or BACKUP: which spec the node's agents run and take part in VRRP with,
    # told by the agents themselves (writers wait on it, not on Docker)
    running_specs: tuple[tuple[str, str], ...] = ()
    # each fresh agent's runtime channel: its listener and the priorities it runs with now
    runtime: tuple[AgentRuntime, ...] = ()


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
    reason: str | None = None  # Observation.reason
    stale: bool = False
    controller: ControllerStatus | None = None
    writer: str | None = None  # who applies a planned change now (Observation.writer)
    # one line per step of that change in progress (a VIP moving, a task restarting): what
    # would be an alarm without a writer and is the change's own phase (rules.planned)
    progress: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ControllerStatus:
    """The controller as its own reports show it."""

    healthy: bool
    leader: str | None
    last_reconcile: float | None
    pending: int
    last_error: str | None
    age: float


@dataclass(frozen=True, slots=True)
class Clocks:
    """Freshness on the reader's clock: an agent's `ts` is moved by its estimated offset.

    With no offset known (no arrival data, e.g. a recorded Observation) the clocks are trusted.
    """

    now: float
    offsets: Mapping[Agent, float] = field(default_factory=dict)
    unanswered: frozenset[Agent] = frozenset()
    unreadable: Mapping[Agent, str] = field(default_factory=dict)  # Heard.unreadable

    @classmethod
    def of(cls, obs: Observation) -> Clocks:
        return cls(
            obs.now,
            {(h.stack, h.node_id): h.offset for h in obs.heard if h.offset is not None},
            frozenset((h.stack, h.node_id) for h in obs.heard if not h.answered),
            {(h.stack, h.node_id): h.unreadable for h in obs.heard if h.unreadable},
        )

    def age(self, report: Report) -> float:
        """Seconds since the agent wrote `report`, on the reader's clock."""
        return self.now - self.written(report)

    def written(self, report: Report) -> float:
        """When the agent wrote `report`, on the reader's clock."""
        return self.on_reader(report.stack, report.node_id, report.ts)

    def on_reader(self, stack: str, node_id: str, ts: float) -> float:
        """A time on that agent's clock (`ts`), on the reader's clock."""
        return ts - self.offsets.get((stack, node_id), 0.0)

    def answered(self, stack: str, node_id: str) -> bool:
        return (stack, node_id) not in self.unanswered

    def fresh(self, report: Report | None) -> bool:
        return (
            report is not None
            and self.answered(report.stack, report.node_id)
            and self.age(report) <= STALE_AFTER * report.interval
        )


class StatusSource(Protocol):
    """Where an Observation comes from (the swarm, or a fake): status, TUI and converge see only
    this; `swarmvip.cluster.status_source.ClusterSource` reads a real manager."""

    def observe(self) -> Observation: ...

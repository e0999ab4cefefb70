"""Prometheus metric families from the latest folded status snapshot: a pure function, and the
custom Collector the controller's /metrics endpoint renders with (prometheus-client).

Nothing here keeps state: `families(view, now)` turns one MetricsView (the last snapshot, the
running tally of transitions and gaps, the check results of the fresh reports, the controller's
own counters) into metric families; `SnapshotCollector` asks for the current view at each
scrape. While the status source fails, only `swarmvip_status_up 0`, the poll counters and the
controller's metrics are exported: the holders it last saw are not reported as current.

Labels: `stack`, `group` (the VIP group), `vip` (the group's addresses, comma-separated, as in
the stack file), `node` (hostname) and `node_id` (hostnames may repeat). Every metric name is
listed in NAMES (README "Metrics and alerts").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from swarmvip.status.events import Event
from swarmvip.status.fold import latest_reports
from swarmvip.status.model import Clocks, Observation, Snapshot, VipStatus
from swarmvip.status.rules import HolderVerdict, holder_verdict
from swarmvip.status.tally import GAP_BUCKETS, Tally
from swarmvip.wire.keys import VipKey

# The alarm kinds of status/alarms.py and fold.py; each is exported (0 when absent), so a rule
# can tell "no alarm" from "no data". A kind not listed here is exported while it is raised.
ALARM_KINDS = (
    "split-brain",
    "partial-holder",
    "no-holder",
    "holder-unknown",
    "unexpected-holder",
    "stale-report",
    "no-report",
    "report-unreadable",
    "task-starting",
    "task-not-running",
    "member-drained",
    "agent-fault",
    "incompatible-agent",
    "vrid-shared",
    "vip-cross-stack",
    "controller",
)
VRRP_STATES = ("MASTER", "BACKUP", "FAULT", "STOP", "UNKNOWN")
CHECK_STATES = ("ok", "failing", "unknown")
VIP = ("stack", "group", "vip")
VIP_NODE = (*VIP, "node", "node_id")
NODE = ("node", "node_id")
INSTANCE = ("stack", "group", "node", "node_id")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One health check of one VRRP instance on one node, from its fresh report."""

    stack: str
    group: str
    node: str
    node_id: str
    check: str
    state: str  # ok, failing, unknown


@dataclass(frozen=True, slots=True)
class ControllerFacts:
    """The controller as it knows itself (its own counters, not its log lines)."""

    identity: str
    leader: bool
    reconciles: int = 0
    errors: int = 0
    actions: int = 0
    pending: int = 0
    last_reconcile: float | None = None
    failing: bool = False  # the last pass, or the loop, ended in an error


@dataclass(frozen=True, slots=True)
class MetricsView:
    """Everything one scrape shows."""

    snapshot: Snapshot | None = None  # None: nothing polled yet
    checks: tuple[CheckResult, ...] = ()
    tally: Tally = field(default_factory=Tally)
    polls: int = 0
    poll_errors: int = 0
    last_success: float | None = None  # when the source last answered (reader's clock)
    controller: ControllerFacts | None = None


def check_results(obs: Observation) -> tuple[CheckResult, ...]:
    """The checks every fresh report states (a stale report's checks say nothing now)."""
    clocks = Clocks.of(obs)
    return tuple(
        CheckResult(r.stack, inst.group, r.node, r.node_id, name, state)
        for r in latest_reports(obs.reports).values()
        if clocks.fresh(r)
        for inst in r.instances
        for name, state in inst.checks
    )


def advance(
    view: MetricsView, snap: Snapshot, obs: Observation, events: Iterable[Event]
) -> MetricsView:
    """The view after one more poll (its snapshot, observation and events; status/events.py)."""
    failed = obs.error is not None
    return replace(
        view,
        snapshot=snap,
        checks=view.checks if failed else check_results(obs),
        tally=view.tally.add(events),
        polls=view.polls + 1,
        poll_errors=view.poll_errors + (1 if failed else 0),
        last_success=view.last_success if failed else obs.now,
    )


def _vip_labels(v: VipStatus) -> list[str]:
    return [v.stack, v.name, ",".join(v.addresses)]


def _gauge(name: str, doc: str, labels: Sequence[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _vip_families(snap: Snapshot, tally: Tally, now: float) -> list[Metric]:
    info = _gauge(
        "swarmvip_vip_info", "A VIP group: its VRID and preemption", (*VIP, "vrid", "preemption")
    )
    holder = _gauge(
        "swarmvip_vip_holder", "1 if the node holds the VIP (its own fresh report)", VIP_NODE
    )
    expected = _gauge("swarmvip_vip_expected_holder", "1 if the node should hold the VIP", VIP_NODE)
    holders = _gauge("swarmvip_vip_holders", "Number of nodes holding the VIP (1 is healthy)", VIP)
    verdict = _gauge("swarmvip_vip_verdict", "1 for the VIP's holder verdict", (*VIP, "verdict"))
    last = _gauge(
        "swarmvip_vip_last_transition_timestamp_seconds",
        "When the holder set last changed (agent clock)",
        VIP,
    )
    since = _gauge(
        "swarmvip_vip_seconds_since_transition", "Seconds since the holder set last changed", VIP
    )
    moves = CounterMetricFamily(
        "swarmvip_vip_transitions", "Holder changes seen by this process", labels=VIP
    )
    gaps = HistogramMetricFamily(
        "swarmvip_vip_handover_gap_seconds",
        "Seconds with no holder during a handover (0: make-before-break)",
        labels=VIP,
    )
    bounds = [repr(float(b)) for b in GAP_BUCKETS] + ["+Inf"]
    for v in snap.vips:
        labels = _vip_labels(v)
        info.add_metric([*labels, str(v.vrid), v.preemption], 1)
        for m in v.members:
            held = m.node_id in v.holder_ids if v.holder_ids else m.hostname in v.holders
            holder.add_metric([*labels, m.hostname, m.node_id], 1 if held else 0)
            expected.add_metric(
                [*labels, m.hostname, m.node_id], 1 if m.hostname == v.expected_holder else 0
            )
        holders.add_metric(labels, len(v.holders))
        judged = holder_verdict(v)
        for option in HolderVerdict:
            verdict.add_metric([*labels, option.value], 1 if option == judged else 0)
        if v.since is not None:
            last.add_metric(labels, v.since)
            since.add_metric(labels, max(0.0, now - v.since))
        counted = tally.get(v.key)
        moves.add_metric(labels, counted.transitions)
        gaps.add_metric(
            labels, list(zip(bounds, counted.cumulative(), strict=True)), counted.gap_sum
        )
    return [info, holder, expected, holders, verdict, last, since, moves, gaps]


def _node_families(snap: Snapshot, checks: Iterable[CheckResult], now: float) -> list[Metric]:
    info = _gauge(
        "swarmvip_node_info",
        "A swarm node as the manager sees it",
        (*NODE, "role", "availability", "state"),
    )
    vrrp = _gauge(
        "swarmvip_node_vrrp_state",
        "1 for the VRRP state a node reports per VIP group",
        (*INSTANCE, "state"),
    )
    age = _gauge(
        "swarmvip_node_report_age_seconds",
        "Seconds since the node's newest report (reader's clock)",
        NODE,
    )
    check = _gauge(
        "swarmvip_node_check",
        "1 for the state of a health check on a node",
        (*INSTANCE, "check", "state"),
    )
    host = {}
    for n in snap.nodes:
        host[n.node_id] = n.hostname
        info.add_metric([n.hostname, n.node_id, n.role, n.availability, n.state], 1)
        if n.report_age is not None:
            age.add_metric(
                [n.hostname, n.node_id], n.report_age + max(0.0, now - snap.generated_at)
            )
        for name, state in n.vrrp_states:
            key = VipKey.parse(name)
            known = VRRP_STATES if state in VRRP_STATES else (*VRRP_STATES, state)
            for option in known:
                vrrp.add_metric(
                    [key.stack, key.group, n.hostname, n.node_id, option],
                    1 if option == state else 0,
                )
    for c in checks:
        states = CHECK_STATES if c.state in CHECK_STATES else (*CHECK_STATES, c.state)
        for option in states:
            labels = [c.stack, c.group, host.get(c.node_id, c.node), c.node_id, c.check, option]
            check.add_metric(labels, 1 if option == c.state else 0)
    return [info, vrrp, age, check]


def _alarm_families(snap: Snapshot) -> list[Metric]:
    per_kind = _gauge("swarmvip_alarms", "Alarms raised, per kind", ("kind",))
    each = _gauge(
        "swarmvip_alarm", "Alarms raised now, per subject", ("kind", "subject", "severity")
    )
    counted = Counter(a.kind for a in snap.alarms)
    for kind in (*ALARM_KINDS, *sorted(set(counted) - set(ALARM_KINDS))):
        per_kind.add_metric([kind], counted.get(kind, 0))
    # two alarms may share kind and subject (two partial holders of one VIP): one series each
    for (kind, subject, severity), n in Counter(
        (a.kind, a.subject, a.severity) for a in snap.alarms
    ).items():
        each.add_metric([kind, subject, severity], n)
    return [per_kind, each]


def _controller_families(c: ControllerFacts) -> list[Metric]:
    leader = _gauge(
        "swarmvip_controller_leader", "1 while this controller holds the write lease", ("identity",)
    )
    leader.add_metric([c.identity], 1 if c.leader else 0)
    last = GaugeMetricFamily(
        "swarmvip_controller_last_reconcile_timestamp_seconds", "When the last reconcile pass ended"
    )
    if c.last_reconcile is not None:
        last.add_metric([], c.last_reconcile)
    return [
        leader,
        CounterMetricFamily(
            "swarmvip_controller_reconciles", "Reconcile passes run", value=c.reconciles
        ),
        CounterMetricFamily(
            "swarmvip_controller_errors",
            "Errors: of a stack in a pass, or of the loop",
            value=c.errors,
        ),
        CounterMetricFamily(
            "swarmvip_controller_actions",
            "Swarm changes applied by reconcile passes",
            value=c.actions,
        ),
        GaugeMetricFamily(
            "swarmvip_controller_pending",
            "Stacks the last pass could not converge",
            value=c.pending,
        ),
        GaugeMetricFamily(
            "swarmvip_controller_failing",
            "1 if the last pass or the loop failed",
            value=1 if c.failing else 0,
        ),
        last,
    ]


def families(view: MetricsView, now: float) -> list[Metric]:
    """The metric families of one scrape at `now` (reader's clock). Pure."""
    snap = view.snapshot
    up = snap is not None and not snap.error
    out: list[Metric] = [
        GaugeMetricFamily(
            "swarmvip_status_up",
            "1 if the last status poll reached the manager",
            value=1 if up else 0,
        ),
        CounterMetricFamily("swarmvip_status_polls", "Status polls", value=view.polls),
        CounterMetricFamily(
            "swarmvip_status_poll_errors", "Status polls that failed", value=view.poll_errors
        ),
    ]
    if view.last_success is not None:
        out.append(
            GaugeMetricFamily(
                "swarmvip_status_last_success_timestamp_seconds",
                "When a status poll last succeeded",
                value=view.last_success,
            )
        )
    if snap is not None and up:
        out += _vip_families(snap, view.tally, now)
        out += _node_families(snap, view.checks, now)
        out += _alarm_families(snap)
    if view.controller is not None:
        out += _controller_families(view.controller)
    return out


NAMES = (
    "swarmvip_status_up",
    "swarmvip_status_polls_total",
    "swarmvip_status_poll_errors_total",
    "swarmvip_status_last_success_timestamp_seconds",
    "swarmvip_vip_info",
    "swarmvip_vip_holder",
    "swarmvip_vip_expected_holder",
    "swarmvip_vip_holders",
    "swarmvip_vip_verdict",
    "swarmvip_vip_last_transition_timestamp_seconds",
    "swarmvip_vip_seconds_since_transition",
    "swarmvip_vip_transitions_total",
    "swarmvip_vip_handover_gap_seconds",
    "swarmvip_node_info",
    "swarmvip_node_vrrp_state",
    "swarmvip_node_report_age_seconds",
    "swarmvip_node_check",
    "swarmvip_alarms",
    "swarmvip_alarm",
    "swarmvip_controller_leader",
    "swarmvip_controller_reconciles_total",
    "swarmvip_controller_errors_total",
    "swarmvip_controller_actions_total",
    "swarmvip_controller_pending",
    "swarmvip_controller_failing",
    "swarmvip_controller_last_reconcile_timestamp_seconds",
)


class SnapshotCollector:
    """A prometheus-client Collector: each scrape renders `view()` at `clock()`."""

    def __init__(self, view: Callable[[], MetricsView], clock: Callable[[], float]) -> None:
        self.view, self.clock = view, clock

    def collect(self) -> Iterable[Metric]:
        return families(self.view(), self.clock())

"""Alarms an operator must not miss: split brain, no holder, wrong holder, stale, down. Pure.

Split brain is per ADDRESS: any address on more than one fresh node, also when one of them has
only part of the group ("partial"). An address declared by two stacks is an alarm of its own.

While a writer holds the write lease (Observation.writer), the alarms that are its change's own
phases (rules.planned: the VIP still on the node it leaves, a task restarting, a new task not
reported yet) become progress lines (`with_progress`); every other alarm stays.

A node whose reports the engine could not read is `report-unreadable`, not `no-report` (it may
well have reported: the manager cannot tell), and a VIP that no readable member holds while
such a node might is `holder-unknown`, not `no-holder`: right after a raft leader election
every node reads so for several seconds (warnings: nothing is known to be wrong).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Mapping

from swarmvip.status.model import STALE_AFTER as STALE_AFTER
from swarmvip.status.model import Alarm, Clocks, DeployedNode, VipStatus
from swarmvip.status.rules import SEVERITY, HolderVerdict, holder_verdict, planned
from swarmvip.wire.keys import VipKey
from swarmvip.wire.report import Report

STARTING = ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting")


def _split_brain(vip: VipStatus, subject: str) -> list[Alarm]:
    if len(vip.holders) > 1:
        message = (
            f"{len(vip.holders)} nodes hold {', '.join(vip.addresses)}: {', '.join(vip.holders)}"
        )
    else:
        doubled = [f"{a} is on {', '.join(on)}" for a, on in vip.presence if len(on) > 1]
        if not doubled:
            return []
        message = "; ".join(doubled)
    return [Alarm(HolderVerdict.SPLIT_BRAIN.value, subject, message)]


def _partial(vip: VipStatus, subject: str) -> list[Alarm]:
    found = []
    for host in vip.partial:
        has = [a for a, on in vip.presence if host in on]
        found.append(
            Alarm(
                "partial-holder",
                subject,
                f"{host} has only {', '.join(has)} of {', '.join(vip.addresses)}",
            )
        )
    return found


def _vip_alarms(vip: VipStatus) -> list[Alarm]:
    subject = str(vip.key)
    found = _split_brain(vip, subject) + _partial(vip, subject)
    verdict = holder_verdict(vip)
    if verdict == HolderVerdict.NO_HOLDER and vip.unknown:
        message = (
            f"no readable report shows a holder of {', '.join(vip.addresses)}, and the reports"
            f" of {', '.join(vip.unknown)} cannot be read now: whether one of them holds it is"
            ' unknown (not "no holder")'
        )
        return [Alarm("holder-unknown", subject, message, "warning"), *found]
    if verdict == HolderVerdict.NO_HOLDER:
        message = f"no node holds {', '.join(vip.addresses)}"
        return [Alarm(verdict.value, subject, message, SEVERITY[verdict]), *found]
    if verdict == HolderVerdict.UNEXPECTED and not found:
        message = f"{vip.holders[0]} holds it but {vip.expected_holder} should (preferred)"
        return [Alarm(verdict.value, subject, message, SEVERITY[verdict])]
    return found  # split brain: found names it, per address


def _task_alarm(dep: DeployedNode, subject: str) -> list[Alarm]:
    if dep.task_state in STARTING:
        return [
            Alarm(
                "task-starting", subject, f"keepalived task is {dep.task_state}", severity="warning"
            )
        ]
    if dep.task_state != "running":
        return [
            Alarm(
                "task-not-running",
                subject,
                f"keepalived task is {dep.task_state}"
                + (f": {dep.task_error}" if dep.task_error else ""),
            )
        ]
    return []


def _unreadable(why: str, node_state: str) -> str:
    """What a `report-unreadable` alarm says, by the node's state in the swarm."""
    told = f"the manager cannot read this node's reports (engine: {why})"
    if node_state == "unknown":
        return (
            f"{told}; Swarm does not know the node's state either (a raft leader change: nodes"
            " reconnect to the new leader within seconds): its VRRP state is unknown"
        )
    if node_state == "down":
        return f"{told}; the node is down"
    return (
        f"{told}: its VRRP state is unknown. For a few seconds after a raft leader change this"
        " is normal (its agent reconnects); if it persists while the node is Ready and its task"
        " runs, restart Docker on that node (drain it first if it holds a VIP)"
    )


def _report_alarm(
    dep: DeployedNode,
    subject: str,
    report: Report | None,
    clocks: Clocks,
    node_state: str = "",
) -> list[Alarm]:
    answered = clocks.answered(dep.stack, dep.plan.node_id)
    silent = "its log stream did not answer in time: node paused, down or cut off"
    unreadable = clocks.unreadable.get((dep.stack, dep.plan.node_id))
    if report is None:
        if not answered:
            return [Alarm("stale-report", subject, silent)]
        if unreadable:
            message = _unreadable(unreadable, node_state)
            return [Alarm("report-unreadable", subject, message, "warning")]
        return [Alarm("no-report", subject, "no state report from this node yet", "warning")]
    if not clocks.fresh(report):
        age = f"last report {clocks.age(report):.0f}s ago"
        message = f"{silent} ({age})" if not answered else f"{age}: node down or cut off"
        return [Alarm("stale-report", subject, message)]
    if report.kind == "fault":
        return [Alarm("agent-fault", subject, report.reason or "agent in fault")]
    if report.faults:  # a helper of the agent (a check, the netlink watcher) failed
        return [Alarm("agent-fault", subject, "; ".join(report.faults))]
    return []


def _drained(dep: DeployedNode) -> Alarm:
    """One warning for a member whose node the operator drained: its task cannot run there
    (not "starting", and no report is to be expected from it)."""
    name = dep.plan.hostname
    return Alarm(
        "member-drained",
        f"{dep.stack}/{name}",
        f"{name} is drained in the swarm: its keepalived task cannot run there and the VIP's"
        f" other members carry it (`docker node update --availability active {name}` brings"
        " it back)",
        severity="warning",
    )


def _node_alarms(
    deployed: tuple[DeployedNode, ...],
    latest: dict[tuple[str, str], Report],
    clocks: Clocks,
    states: Mapping[str, str],
    drained: frozenset[str] = frozenset(),
) -> list[Alarm]:
    found = []
    for dep in deployed:
        if dep.plan.node_id in drained and dep.task_state not in ("running", "starting"):
            found.append(_drained(dep))
            continue
        if dep.note:  # its plan is unreadable: what it reports cannot be matched to a plan
            subject = f"{dep.stack}/{dep.service}"
            found += _task_alarm(dep, subject)
            found.append(Alarm("incompatible-agent", subject, dep.note, severity="warning"))
            continue
        subject = f"{dep.stack}/{dep.plan.hostname}"
        found += _task_alarm(dep, subject)
        report = latest.get((dep.stack, dep.plan.node_id))
        state = states.get(dep.plan.node_id, "")
        found += _report_alarm(dep, subject, report, clocks, state)
    return found


def _vrid_alarms(deployed: tuple[DeployedNode, ...]) -> list[Alarm]:
    owners: dict[int, set[str]] = defaultdict(set)
    for dep in deployed:
        for inst in dep.plan.instances:
            owners[inst.vrid].add(str(VipKey(dep.stack, inst.group)))
    return [
        Alarm("vrid-shared", f"vrid {vrid}", f"VRID {vrid} is used by {', '.join(sorted(o))}")
        for vrid, o in sorted(owners.items())
        if len(o) > 1
    ]


def _cross_stack_alarms(deployed: tuple[DeployedNode, ...]) -> list[Alarm]:
    """An address declared by two stacks: two VRRP instances fight over it (audit 9)."""
    owners: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, set[str]] = defaultdict(set)
    for dep in deployed:
        for inst in dep.plan.instances:
            for address in inst.addresses:
                owners[address.ip].add(str(VipKey(dep.stack, inst.group)))
    return [
        Alarm(
            "vip-cross-stack",
            f"address {ip}",
            f"{ip} is declared by {', '.join(sorted(o))}: two VRRP instances fight over it;"
            " remove it from all stacks but one",
        )
        for ip, o in sorted(owners.items(), key=lambda item: str(item[0]))
        if len({VipKey.parse(owner).stack for owner in o}) > 1
    ]


def alarms(
    vips: tuple[VipStatus, ...],
    deployed: tuple[DeployedNode, ...],
    latest: dict[tuple[str, str], Report],
    clocks: Clocks | float,
    states: Mapping[str, str] | None = None,
    drained: frozenset[str] = frozenset(),
) -> tuple[Alarm, ...]:
    """Every alarm; `clocks` (or a bare `now`, trusting the agents' clocks) judges freshness;
    `states`: {node id: its state in the swarm} (ready, down, unknown, …) where known;
    `drained`: the ids of nodes the swarm drained (availability drain)."""
    clocks = clocks if isinstance(clocks, Clocks) else Clocks(clocks)
    found = [a for v in vips for a in _vip_alarms(v)]
    found += _node_alarms(deployed, latest, clocks, states or {}, drained)
    found += _vrid_alarms(deployed)
    found += _cross_stack_alarms(deployed)
    return tuple(found)


def _steps(
    vips: tuple[VipStatus, ...],
    deployed: tuple[DeployedNode, ...],
    latest: dict[tuple[str, str], Report],
) -> dict[tuple[str, str], str]:
    """What a planned change is doing, by the (kind, subject) of the alarm it would raise."""
    steps = {
        (HolderVerdict.UNEXPECTED.value, str(v.key)): (
            f"moving {v.holders[0]} → {v.expected_holder}"
        )
        for v in vips
        if len(v.holders) == 1 and v.expected_holder
    }
    for dep in deployed:
        subject = f"{dep.stack}/{dep.service}" if dep.note else f"{dep.stack}/{dep.plan.hostname}"
        again = (dep.stack, dep.plan.node_id) in latest  # its node reported before: a restart
        verb = "restarting" if again else "starting"
        steps[("task-starting", subject)] = f"keepalived task {verb}, {dep.task_state}"
        steps[("no-report", subject)] = "new keepalived task, waiting for its first report"
    return steps


def with_progress(
    found: tuple[Alarm, ...],
    vips: tuple[VipStatus, ...],
    deployed: tuple[DeployedNode, ...],
    latest: dict[tuple[str, str], Report],
    writer: str | None,
) -> tuple[tuple[Alarm, ...], tuple[str, ...]]:
    """(alarms, progress lines): while `writer` applies a change, the alarms that are its own
    phases (rules.planned) are progress lines naming it; without a writer, `found` as it is."""
    if writer is None:
        return found, ()
    steps = _steps(vips, deployed, latest)
    kept, progress = [], []
    for a in found:
        if planned(a.kind, writer):
            step = steps.get((a.kind, a.subject), a.message)
            progress.append(f"{a.subject}: {step} ({writer} applying)")
        else:
            kept.append(a)
    return tuple(kept), tuple(progress)

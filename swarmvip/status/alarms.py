"""Alarms an operator must not miss: split brain, no holder, wrong holder, stale, down. Pure."""

from __future__ import annotations

from collections import defaultdict

from swarmvip.agent.report import Report
from swarmvip.model import Preemption
from swarmvip.status.model import Alarm, DeployedNode, VipStatus

STALE_AFTER = 3.0
STARTING = ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting")


def _vip_alarms(vip: VipStatus) -> list[Alarm]:
    subject = f"{vip.stack}/{vip.name}"
    if len(vip.holders) > 1:
        return [
            Alarm(
                "split-brain",
                subject,
                f"{len(vip.holders)} nodes hold {', '.join(vip.addresses)}: "
                f"{', '.join(vip.holders)}",
            )
        ]
    if not vip.holders:
        return [Alarm("no-holder", subject, f"no node holds {', '.join(vip.addresses)}")]
    if (
        vip.preemption == Preemption.PREFERRED
        and vip.expected_holder
        and vip.holders[0] != vip.expected_holder
    ):
        return [
            Alarm(
                "unexpected-holder",
                subject,
                f"{vip.holders[0]} holds it but {vip.expected_holder} should (preferred)",
                severity="warning",
            )
        ]
    return []


def _node_alarms(
    deployed: tuple[DeployedNode, ...], latest: dict[tuple[str, str], Report], now: float
) -> list[Alarm]:
    found = []
    for dep in deployed:
        subject = f"{dep.stack}/{dep.plan.hostname}"
        if dep.task_state in STARTING:
            found.append(
                Alarm(
                    "task-starting",
                    subject,
                    f"keepalived task is {dep.task_state}",
                    severity="warning",
                )
            )
        elif dep.task_state != "running":
            found.append(
                Alarm(
                    "task-not-running",
                    subject,
                    f"keepalived task is {dep.task_state}"
                    + (f": {dep.task_error}" if dep.task_error else ""),
                )
            )
        report = latest.get((dep.stack, dep.plan.node_id))
        if report is None:
            found.append(
                Alarm(
                    "no-report", subject, "no state report from this node yet", severity="warning"
                )
            )
        elif now - report.ts > STALE_AFTER * report.interval:
            found.append(
                Alarm(
                    "stale-report",
                    subject,
                    f"last report {now - report.ts:.0f}s ago: node down or cut off",
                )
            )
        elif report.kind == "fault":
            found.append(Alarm("agent-fault", subject, report.reason or "agent in fault"))
    return found


def _vrid_alarms(deployed: tuple[DeployedNode, ...]) -> list[Alarm]:
    owners: dict[int, set[str]] = defaultdict(set)
    for dep in deployed:
        for inst in dep.plan.instances:
            owners[inst.vrid].add(f"{dep.stack}/{inst.group}")
    return [
        Alarm("vrid-shared", f"vrid {vrid}", f"VRID {vrid} is used by {', '.join(sorted(o))}")
        for vrid, o in sorted(owners.items())
        if len(o) > 1
    ]


def alarms(
    vips: tuple[VipStatus, ...],
    deployed: tuple[DeployedNode, ...],
    latest: dict[tuple[str, str], Report],
    now: float,
) -> tuple[Alarm, ...]:
    found = [a for v in vips for a in _vip_alarms(v)]
    found += _node_alarms(deployed, latest, now)
    found += _vrid_alarms(deployed)
    return tuple(found)

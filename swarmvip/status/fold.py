"""Fold an Observation into a Snapshot: holders from the nodes' own reports, never predicted. Pure.

Freshness is judged on the READER's clock, never by comparing an agent's `ts` with it (agents'
clocks and a laptop's need not agree). The source records when each line ARRIVED (the reader's
wall clock); a line that arrived at `at` was written no later than `at`, so `ts - at` is a lower
bound of that agent's clock offset, tight for a line read live. The offset of an agent is the
largest `ts - at` over its last few new lines (ReportLog): a backlog read in one go counts as
current (a node whose stream answers writes a heartbeat every interval), a live line corrects
it, and a clock step is forgotten after a few lines. The age of a report is then
`now - (ts - offset)`; it is fresh while younger than 3 heartbeat intervals. A node whose log
stream did not answer in time (paused, down, cut off) is not fresh whatever it said before.
A node that is not fresh counts as unknown, and its claims to hold a VIP are not believed.
Without arrival data (Observation.heard empty) the agents' clocks are trusted as they are.

A master's last "holding" report is not believed once another member reports that it took the
group over on that master's priority-0 advert after the report was written (`_released`).

A node with some but not all of a group's addresses on its interface is a "partial" holder;
any address on more than one fresh node is a split brain (alarms.py).

A node whose reports the engine could not read (Heard.unreadable: "node X is not available",
as every node's right after a raft leader election until it reconnects) is unknown too; unless
Swarm says that node is down, a VIP that no other member holds is then of unknown holder
(`VipStatus.unknown`, alarm `holder-unknown`), not "no holder".
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

from swarmvip.model import InstancePlan, Node
from swarmvip.plan.moves import AgentRuntime
from swarmvip.status.alarms import alarms, with_progress
from swarmvip.status.history import merged_handovers, transitions
from swarmvip.status.model import (
    STALE_AFTER,
    Alarm,
    Clocks,
    ControllerStatus,
    DeployedNode,
    Member,
    NodeStatus,
    Observation,
    Snapshot,
    Transition,
    VipStatus,
)
from swarmvip.status.rules import NO_PROCESS_STATES, expected_holder
from swarmvip.wire.keys import LABEL_PREFIX, NODE_LABELS, VipKey
from swarmvip.wire.report import InstanceReport, Report

CONTROLLER_STALE = 45.0  # seconds
HISTORY = 20
_TASK_RANK = {"running": 0, "starting": 1, "preparing": 1, "assigned": 1, "pending": 2}


def latest_reports(reports: tuple[Report, ...]) -> dict[tuple[str, str], Report]:
    """The newest report per (stack, node id)."""
    latest: dict[tuple[str, str], Report] = {}
    for r in reports:
        key = (r.stack, r.node_id)
        if key not in latest or (r.ts, r.seq) > (latest[key].ts, latest[key].seq):
            latest[key] = r
    return latest


def is_fresh(report: Report | None, now: float) -> bool:
    """Fresh if the agents' clocks agree with the reader's (see Clocks for the real test)."""
    return Clocks(now).fresh(report)


def _instance(report: Report | None, group: str) -> InstanceReport | None:
    if report is None:
        return None
    return next((i for i in report.instances if i.group == group), None)


def effective_priority(
    plan: InstancePlan, seen: InstanceReport | None, healthy: bool, base: int | None = None
) -> int | None:
    """Priority after failing checks (None: cannot hold: unknown, FAULT or check weight 0).
    base: the priority the instance runs with (running_priority), default the planned one."""
    if not healthy or seen is None or seen.vrrp_state in ("FAULT", "STOP", "UNKNOWN"):
        return None
    failing = {name for name, state in seen.checks if state == "failing"}
    weights = [c.weight for c in plan.checks if c.name in failing]
    if any(w == 0 for w in weights):
        return None
    return max(1, min(254, (plan.priority if base is None else base) + sum(weights)))


def running_priority(
    plan: InstancePlan, report: Report | None, seen: InstanceReport | None, fresh: bool
) -> int:
    """The priority an instance runs with: what a fresh agent with the runtime channel reports
    (its configured priority plus the runtime change, wire.command), else its config's.
    seen: the report's instance of the plan's group."""
    if fresh and report is not None and report.control is not None and seen is not None:
        return seen.priority
    return plan.priority


def _settled(report: Report) -> bool:
    """Every VRRP instance of the report has left keepalived's start (MASTER or BACKUP): a
    task whose keepalived runs but has not yet joined VRRP could not take over a VIP."""
    return all(i.vrrp_state in ("MASTER", "BACKUP") for i in report.instances)


def _runs_its_spec(dep: DeployedNode, report: Report | None) -> bool:
    """The task runs: Docker says so, or says "starting" (its HEALTHCHECK has not passed yet,
    5 s after a start) while the task's own agent reports the service's current spec hash.
    A fresh report from the process before a restart carries the old hash: it never counts."""
    if dep.task_state == "running":
        return True
    return (
        dep.task_state == "starting"
        and report is not None
        and bool(dep.spec)
        and report.spec == dep.spec
    )


def _members(
    group_nodes: list[tuple[DeployedNode, InstancePlan]],
    latest: dict[tuple[str, str], Report],
    clocks: Clocks,
    let_go: frozenset[tuple[str, str]] = frozenset(),
) -> tuple[Member, ...]:
    """let_go: (stack, node id) of masters that released the group since their last report
    (`_released`): what they last said is past, they cannot hold it nor be expected to."""
    members = []
    for dep, inst in group_nodes:
        key = (dep.stack, dep.plan.node_id)
        report = latest.get(key)
        seen = _instance(report, inst.group)
        current = clocks.fresh(report) and key not in let_go
        healthy = (
            current
            and _runs_its_spec(dep, report)
            and (report is not None and report.keepalived == "running")
        )
        priority = running_priority(inst, report, seen, clocks.fresh(report))
        members.append(
            Member(
                dep.plan.hostname,
                dep.plan.node_id,
                priority,
                effective_priority(inst, seen, healthy, priority),
                seen.vrrp_state if seen and current else "UNKNOWN",
            )
        )
    return tuple(sorted(members, key=lambda m: -m.priority))


def _ip(address: str) -> str:
    """The address without its prefix length, canonical (10.0.0.100/24 -> 10.0.0.100)."""
    try:
        return str(ipaddress.ip_interface(address.strip()).ip)
    except ValueError:
        return address.split("/", 1)[0]


def _holding(
    members: tuple[Member, ...],
    stack: str,
    group: str,
    latest: dict[tuple[str, str], Report],
    clocks: Clocks,
) -> list[Member]:
    """The members whose fresh report says they hold the whole group."""
    held = []
    for m in members:
        report = latest.get((stack, m.node_id))
        seen = _instance(report, group)
        if clocks.fresh(report) and seen is not None and seen.holds_vip:
            held.append(m)
    return held


def _presence(
    members: tuple[Member, ...],
    stack: str,
    inst: InstancePlan,
    latest: dict[tuple[str, str], Report],
    clocks: Clocks,
) -> tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """(partial holders, (address, fresh nodes it is on)) of one group."""
    addresses = {_ip(a.with_prefixlen): a.with_prefixlen for a in inst.addresses}
    partial: list[str] = []
    on: dict[str, list[str]] = defaultdict(list)
    for m in members:
        report = latest.get((stack, m.node_id))
        seen = _instance(report, inst.group)
        if not clocks.fresh(report) or seen is None:
            continue
        present = {_ip(a) for a in seen.vips_present} & set(addresses)
        for ip in present:
            on[addresses[ip]].append(m.hostname)
        if present and not seen.holds_vip:
            partial.append(m.hostname)
    presence = tuple((a, tuple(sorted(on[a]))) for a in addresses.values() if on.get(a))
    return tuple(sorted(partial)), presence


def _with_a_process(
    group_nodes: list[tuple[DeployedNode, InstancePlan]],
    latest: dict[tuple[str, str], Report],
) -> dict[tuple[str, str], Report]:
    """The reports of nodes whose keepalived task has a container now. A report is fresh for
    3 heartbeats, but a holder killed hard (SIGKILL, OOM) writes no last line: once Swarm shows
    its task failed or its replacement not started yet, no process there can hold a VIP, so
    its last "MASTER" line must not make a second holder beside the one that took over."""
    keys = {
        (dep.stack, dep.plan.node_id)
        for dep, _ in group_nodes
        if dep.task_state not in NO_PROCESS_STATES
    }
    return {key: report for key, report in latest.items() if key in keys}


def _released(
    group_nodes: list[tuple[DeployedNode, InstancePlan]],
    group: str,
    alive: dict[tuple[str, str], Report],
    clocks: Clocks,
) -> dict[tuple[str, str], Report]:
    """`alive` without the reports of masters that let the group go after writing them: a
    member that took the group over on a priority-0 advert from another member's address
    (after_release, agent.adverts) later than that member's last report shows the release
    that report cannot (a Docker daemon that stops cuts its node's log stream before it stops
    the task). A master that went silent sent no such advert (a partition: a real split brain)
    and is still believed."""
    by_address = {_ip(inst.unicast_src): (dep.stack, dep.plan.node_id) for dep, inst in group_nodes}
    kept = dict(alive)
    for key, report in alive.items():
        seen = _instance(report, group)
        if not clocks.fresh(report) or seen is None or seen.vrrp_state != "MASTER":
            continue
        if seen.after_release is None:
            continue
        address, ts = seen.after_release
        released = by_address.get(_ip(address))
        if released is None or released == key or released not in kept:
            continue
        if clocks.written(kept[released]) < clocks.on_reader(key[0], key[1], ts):
            del kept[released]
    return kept


def _unknown(
    group_nodes: list[tuple[DeployedNode, InstancePlan]],
    latest: dict[tuple[str, str], Report],
    clocks: Clocks,
    down: frozenset[str],
) -> tuple[str, ...]:
    """Members whose reports the engine could not read, on a node Swarm does not call down,
    and of which no fresh report is known: whether they hold the VIP is unknown."""
    return tuple(
        sorted(
            dep.plan.hostname
            for dep, _ in group_nodes
            if (dep.stack, dep.plan.node_id) in clocks.unreadable
            and dep.plan.node_id not in down
            and not clocks.fresh(latest.get((dep.stack, dep.plan.node_id)))
        )
    )


def _vip(
    stack: str,
    group: str,
    group_nodes: list[tuple[DeployedNode, InstancePlan]],
    latest: dict[tuple[str, str], Report],
    history: list[Transition],
    clocks: Clocks,
    down: frozenset[str] = frozenset(),
) -> VipStatus:
    inst = group_nodes[0][1]
    running = _with_a_process(group_nodes, latest)
    alive = _released(group_nodes, group, running, clocks)
    members = _members(group_nodes, latest, clocks, frozenset(running) - frozenset(alive))
    holding = _holding(members, stack, group, alive, clocks)
    holders = tuple(sorted(m.hostname for m in holding))
    partial, presence = _presence(members, stack, inst, alive, clocks)
    merged = merged_handovers(history)
    return VipStatus(
        stack=stack,
        name=group,
        addresses=tuple(a.with_prefixlen for a in inst.addresses),
        vrid=inst.vrid,
        preemption=str(inst.preemption),
        members=members,
        holders=holders,
        holder_ids=tuple(sorted(m.node_id for m in holding)),  # hostnames may repeat
        expected_holder=expected_holder(str(inst.preemption), members, holders),
        since=merged[-1].at if merged else None,
        last_transition=merged[-1] if merged else None,
        history=tuple(merged[-HISTORY:]),
        partial=partial,
        presence=presence,
        unknown=_unknown(group_nodes, latest, clocks, down),
    )


def _groups(
    deployed: tuple[DeployedNode, ...],
) -> dict[tuple[str, str], list[tuple[DeployedNode, InstancePlan]]]:
    groups: dict[tuple[str, str], list[tuple[DeployedNode, InstancePlan]]] = defaultdict(list)
    for dep in deployed:
        for inst in dep.plan.instances:
            groups[(dep.stack, inst.group)].append((dep, inst))
    return dict(sorted(groups.items()))


def _node_status(
    node: Node,
    deployed: list[DeployedNode],
    latest: dict[tuple[str, str], Report],
    vips: tuple[VipStatus, ...],
    clocks: Clocks,
) -> NodeStatus:
    reports = [r for d in deployed if (r := latest.get((d.stack, node.id))) is not None]
    newest = min(reports, key=clocks.age, default=None)
    states = tuple(
        sorted(
            (str(VipKey(d.stack, i.group)), i.vrrp_state if clocks.fresh(r) else "UNKNOWN")
            for d in deployed
            if (r := latest.get((d.stack, node.id)))
            for i in r.instances
        )
    )
    tasks = [d.task_state for d in deployed]
    return NodeStatus(
        hostname=node.hostname,
        node_id=node.id,
        addr=node.addr,
        role=str(node.role),
        availability=node.availability,
        state=node.state,
        labels=tuple(
            (k, v) for k, v in node.labels if k.startswith(LABEL_PREFIX) or k in NODE_LABELS
        ),
        task_state=max(tasks, key=lambda s: _TASK_RANK.get(s, 3), default="-"),
        vrrp_states=states,
        holds=tuple(str(v.key) for v in vips if node.id in v.holder_ids),
        report_age=round(clocks.age(newest), 3) if newest else None,
        interface=newest.interface if newest else None,
        running_specs=tuple(
            sorted(
                (r.stack, r.spec)
                for r in reports
                if r.spec and r.keepalived == "running" and clocks.fresh(r) and _settled(r)
            )
        ),
        runtime=tuple(
            AgentRuntime(
                stack=r.stack,
                node_id=node.id,
                spec=r.spec,
                port=r.control.port if r.control else None,
                priorities={i.group: i.priority for i in r.instances},
                states={i.group: i.vrrp_state for i in r.instances},
                switch=r.control.switch if r.control else False,
            )
            for r in reports
            if clocks.fresh(r) and r.spec
        ),
    )


def controller_status(line: dict[str, Any] | None, now: float) -> ControllerStatus | None:
    """Healthy: it reported within 3 lease periods (it reports at least every 5 s), no error."""
    if not line:
        return None
    age = now - float(line.get("ts", 0))
    error = line.get("last_error")
    return ControllerStatus(
        healthy=age <= CONTROLLER_STALE and not error,
        leader=str(line["identity"]) if line.get("leader") else None,
        last_reconcile=line.get("last_reconcile"),
        pending=int(line.get("pending", 0)),
        last_error=error,
        age=round(age, 3),
    )


def fold(obs: Observation) -> Snapshot:
    """The Snapshot for one Observation (pure; the caller keeps the previous one when stale)."""
    latest = latest_reports(obs.reports)
    clocks = Clocks.of(obs)
    history = transitions(obs.reports)
    states = {n.id: n.state for n in obs.nodes}
    down = frozenset(node_id for node_id, state in states.items() if state == "down")
    drained = frozenset(n.id for n in obs.nodes if n.availability == "drain")
    vips = tuple(
        _vip(stack, group, nodes, latest, history.get((stack, group), []), clocks, down)
        for (stack, group), nodes in _groups(obs.deployed).items()
    )
    by_node: dict[str, list[DeployedNode]] = defaultdict(list)
    for dep in obs.deployed:
        by_node[dep.plan.node_id].append(dep)
    nodes = tuple(
        _node_status(n, by_node.get(n.id, []), latest, vips, clocks)
        for n in sorted(obs.nodes, key=lambda n: n.hostname)
    )
    controller = controller_status(obs.controller, obs.now)
    found, progress = with_progress(
        alarms(vips, obs.deployed, latest, clocks, states, drained),
        vips,
        obs.deployed,
        latest,
        obs.writer,
    )
    if controller is not None and not controller.healthy:
        found += (
            Alarm(
                "controller",
                "controller",
                controller.last_error or f"no controller report for {controller.age:.0f}s",
            ),
        )
    return Snapshot(
        controller=controller,
        generated_at=obs.now,
        vips=vips,
        nodes=nodes,
        alarms=found,
        error=obs.error,
        reason=obs.reason,
        writer=obs.writer,
        progress=progress,
    )


__all__ = ["STALE_AFTER", "Alarm", "fold"]

"""Fakes for the TUI: a World that writes agents' reports, a scripted source, recorded actions."""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field

from swarmvip.model import InstancePlan, Node, NodePlan, NotifyHooks, Preemption, Role, Timers
from swarmvip.ops.actions import DrainMode, DrainOutcome, Moved, Progress
from swarmvip.status.model import DeployedNode, Observation
from swarmvip.wire.report import InstanceReport, Report

T0 = 1763762400.0  # 2025-11-21 22:00:00 UTC


def frozen_clock() -> float:
    return T0 + 30.0


class World:
    """A stack whose VIP groups span all nodes; `tick` has every node report what it holds.

    Priorities rotate per group: group 0 prefers the first node, group 1 the second, and so on.
    """

    def __init__(
        self,
        hostnames: tuple[str, ...] = ("node1", "node2", "node3"),
        groups: tuple[str, ...] = ("web",),
        stack: str = "lab",
        start: float = T0,
        span: int | None = None,
        keep: int = 5000,
    ) -> None:
        self.stack, self.groups, self.now, self.keep = stack, groups, start, keep
        self.span = span or len(hostnames)  # nodes per group: groups tile the nodes
        self.hostnames = hostnames
        self.nodes = tuple(
            Node(
                f"id-{h}",
                h,
                Role.MANAGER if i == 0 else Role.WORKER,
                "active",
                "ready",
                f"10.213.{i // 250}.{i % 250 + 10}",
            )
            for i, h in enumerate(hostnames)
        )
        plans = [self._plan(i, h) for i, h in enumerate(hostnames)]
        self.deployed = tuple(
            DeployedNode(stack, f"{stack}_keepalived-{p.hostname}", p, "running")
            for p in plans
            if p.instances
        )
        self.reports: list[Report] = []
        self.seq = 0
        self.silent: set[str] = set()

    def _plan(self, index: int, hostname: str) -> NodePlan:
        instances = tuple(
            InstancePlan(
                group=g,
                vrid=51 + gi,
                priority=150 - (index - self._first(gi)) % len(self.hostnames),
                preemption=Preemption.PREFERRED,
                preempt_delay=0.0,
                timers=Timers(),
                unicast_src=self.nodes[index].addr,
                peers=(),
                addresses=(ipaddress.ip_interface(f"10.99.{gi // 250}.{gi % 250 + 1}/24"),),
                checks=(),
                notify=NotifyHooks(),
                auth_secret=None,
            )
            for gi, g in enumerate(self.groups)
            if self._member(index, gi)
        )
        return NodePlan(f"id-{hostname}", hostname, None, self.nodes[index].addr, instances)

    def _first(self, group_index: int) -> int:
        """Index of the node a group prefers (rotating by one when every group spans all)."""
        return group_index if self.span == len(self.hostnames) else group_index * self.span

    def _member(self, index: int, group_index: int) -> bool:
        return (index - self._first(group_index)) % len(self.hostnames) < self.span

    def tick(self, holders: dict[str, tuple[str, ...]], step: float = 1.0) -> Observation:
        """Advance time; every node that is not silent reports; returns the Observation."""
        self.now += step
        for dep in self.deployed:
            host = dep.plan.hostname
            if host in self.silent:
                continue
            self.seq += 1
            self.reports.append(
                Report(
                    kind="state",
                    ts=self.now,
                    seq=self.seq,
                    stack=self.stack,
                    node=host,
                    node_id=dep.plan.node_id,
                    interface="eth0",
                    keepalived="running",
                    instances=tuple(
                        self._instance(i, host in holders.get(i.group, ()))
                        for i in dep.plan.instances
                    ),
                )
            )
        del self.reports[: -self.keep]  # bounded like the real ReportLog
        return self.observation()

    @staticmethod
    def _instance(plan: InstancePlan, holds: bool) -> InstanceReport:
        vips = tuple(a.with_prefixlen for a in plan.addresses)
        return InstanceReport(
            plan.group,
            plan.vrid,
            plan.priority,
            "MASTER" if holds else "BACKUP",
            vips,
            vips if holds else (),
            holds,
        )

    def observation(self) -> Observation:
        return Observation(self.now, self.nodes, self.deployed, tuple(self.reports))

    def unreachable(self, error: str = "connection refused") -> Observation:
        return Observation(self.now, error=error)


class FakeSource:
    """observe() returns the observation the test set last (thread-safe); counts calls."""

    def __init__(self, first: Observation) -> None:
        self._lock = threading.Lock()
        self._current = first
        self.calls = 0

    def set(self, obs: Observation) -> None:
        with self._lock:
            self._current = obs

    def observe(self) -> Observation:
        with self._lock:
            self.calls += 1
            return self._current


@dataclass
class FakeActions:
    """Records calls; reports two progress lines; returns a scripted outcome."""

    outcome: DrainOutcome = field(
        default_factory=lambda: DrainOutcome(
            True, "node1 drained", (Moved("lab/web", "node1", "node2", 0.312),)
        )
    )
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def drain(
        self, node: str, mode: DrainMode, progress: Progress, force: bool = False
    ) -> DrainOutcome:
        self.calls.append(("drain", node, mode, "force" if force else ""))
        progress(f"lowering {node}'s VRRP priority")
        progress("waiting for lab/web to move")
        return self.outcome

    def undrain(self, node: str, progress: Progress) -> DrainOutcome:
        self.calls.append(("undrain", node))
        progress(f"restoring {node}")
        return DrainOutcome(True, f"{node} undrained")

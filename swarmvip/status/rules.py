"""The rules status decides with, each written once: who should hold a VIP, is a VIP ok. Pure.

fold (expected_holder), drainplan (successor), alarms and the TUI's STATE column all ask here,
and whether an alarm is a planned change's own phase (`planned`: alarms and the TUI).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Protocol

from swarmvip.model import Preemption
from swarmvip.status.model import Member, VipStatus


class HolderVerdict(StrEnum):
    """A VIP judged by its holders alone; the values are the alarm kinds."""

    SPLIT_BRAIN = "split-brain"  # more than one node holds it
    NO_HOLDER = "no-holder"
    UNEXPECTED = "unexpected-holder"  # preferred, and another healthy node should hold it
    OK = "ok"


SEVERITY = {
    HolderVerdict.SPLIT_BRAIN: "critical",
    HolderVerdict.NO_HOLDER: "critical",
    HolderVerdict.UNEXPECTED: "warning",
}


# What a planned change does on its way (swarmvip writers change the swarm only while holding
# the write lease): the VIP is held by the node it moves away from, a keepalived task restarts
# with its new spec, a new task has not reported yet. While a writer holds the lease these are
# progress, not alarms. Split brain, no holder, stale reports, tasks not running, faults and
# every other alarm stay alarms whatever the lease says: a move never hides an outage.
PLANNED = frozenset({HolderVerdict.UNEXPECTED.value, "task-starting", "no-report"})


def planned(kind: str, writer: str | None) -> bool:
    """True when an alarm of `kind` is a step of the change `writer` is applying."""
    return writer is not None and kind in PLANNED


def best_candidate(members: Iterable[Member], leaving: str | None = None) -> Member | None:
    """The healthy member (other than hostname `leaving`) with the highest effective priority,
    ties broken by the configured priority; None when no member is healthy."""
    healthy = [m for m in members if m.hostname != leaving and m.effective_priority is not None]
    return max(healthy, key=lambda m: (m.effective_priority or 0, m.priority), default=None)


def expected_holder(
    preemption: str, members: tuple[Member, ...], holders: tuple[str, ...]
) -> str | None:
    """Preferred: the healthy node with the highest effective priority. Sticky: the holder."""
    healthy = {m.hostname for m in members if m.effective_priority is not None}
    if preemption == Preemption.STICKY and len(holders) == 1 and holders[0] in healthy:
        return holders[0]
    best = best_candidate(members)
    return best.hostname if best else None


def holder_verdict(vip: VipStatus) -> HolderVerdict:
    """Split brain (more than one holder), no holder, unexpected (preferred, and the expected
    holder is another node), else ok."""
    if len(vip.holders) > 1:
        return HolderVerdict.SPLIT_BRAIN
    if not vip.holders:
        return HolderVerdict.NO_HOLDER
    if (
        vip.preemption == Preemption.PREFERRED
        and vip.expected_holder
        and vip.holders[0] != vip.expected_holder
    ):
        return HolderVerdict.UNEXPECTED
    return HolderVerdict.OK


class Schedulable(Protocol):
    """A swarm node as the model (Node) and the status (NodeStatus) both describe it."""

    @property
    def hostname(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def availability(self) -> str: ...


_AVAILABILITY = {"drain": "drained", "pause": "paused"}
# Swarm task states in which the task's container has ended (or never will run again)
TASK_ENDED = frozenset({"complete", "failed", "shutdown", "rejected", "orphaned", "remove"})
# Swarm task states in which the task has no running container: not started yet, or ended.
# ("starting" has one: the container runs while its HEALTHCHECK has not passed yet.)
NO_PROCESS_STATES = frozenset(
    {"new", "pending", "assigned", "accepted", "preparing", "ready"}  # not started yet
    | TASK_ENDED
    | {"-"}  # no task
)


def cannot_run(node: Schedulable | None, node_id: str) -> str | None:
    """Why the swarm cannot start a task pinned to this node now ("node3 is down", "node3 is
    drained", ...), or None when it can (ready and active)."""
    if node is None:
        return f"node {node_id} is not in the swarm"
    name = node.hostname or node_id
    if node.state != "ready":
        return f"{name} is {node.state}"
    if node.availability != "active":
        return f"{name} is {_AVAILABILITY.get(node.availability, node.availability)}"
    return None

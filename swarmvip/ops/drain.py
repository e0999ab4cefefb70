"""Drain and undrain a node: move its VIPs away make-before-break, and bring it back.

vip-only: label the node swarmvip.drain=true and converge every stack it serves (stored in the
swarm by deploy): the node stays a VRRP peer at the lowest priority, and converge moves the VIP
make-before-break (plan.handover) before the drained node's task changes. swarm: the same, then
the node's availability becomes drain. Both wait until the new holder is observed in the agents'
reports; an unreachable manager is an error before anything is written.

NODE is a node id or a hostname. The label records what drain changed: `true` (the VIP only) or
SWARM_DRAINED (drain also turned an active node's availability to drain). undrain removes the
label and sets the availability back to active only in the second case, and only while it is
still drain: a node an operator drained or paused for another reason stays as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from swarmvip.cluster.port import Cluster, Connect
from swarmvip.errors import ConfigError, Problem
from swarmvip.ops.actions import DrainMode, DrainOutcome, Moved, Progress
from swarmvip.ops.agentwait import waits_on_reports
from swarmvip.ops.controller import default_identity
from swarmvip.ops.converge import converge, snapshot
from swarmvip.ops.deploy import prefixed
from swarmvip.ops.runtime import sender_ahead
from swarmvip.spec.stackfile import parse_stack
from swarmvip.status.drainplan import DrainPreview, find_node, preview_drain
from swarmvip.status.model import NodeStatus, Snapshot, StatusSource
from swarmvip.wire.keys import DRAIN_SWARM, NODE_DRAIN, VipKey

VIP_DRAINED = "true"
# drain --swarm also set the availability: a value node_labels reads as drained, too.
SWARM_DRAINED = DRAIN_SWARM


class DrainRefused(ConfigError):
    """The preflight says no (unknown node, not in a group, no backup left)."""


class ClusterActions:
    """Drain/undrain against a swarm: `connect` makes the Cluster and `source` a following
    status source, each anew for every drain or undrain (the commands wire both)."""

    def __init__(
        self, connect: Connect, source: Callable[[], StatusSource], timeout: float = 60.0
    ) -> None:
        self.connect, self.source, self.timeout = connect, source, timeout

    def _converge(
        self, cluster: Cluster, source: StatusSource, stacks: list[str], progress: Progress
    ) -> None:
        with cluster.exclusive(f"drain@{default_identity()}"):
            stored = cluster.stored_specs()
            for stack in stacks:
                if stack not in stored:
                    progress(f"stack {stack}: no stored spec (deployed by an older swarmvip?)")
                    continue
                name, text = stored[stack]
                spec = parse_stack(text, f"swarm config {name}")
                converge(spec, stack, cluster, source, prefixed(progress, stack), self.timeout)

    def drain(
        self, node: str, mode: DrainMode, progress: Progress, force: bool = False
    ) -> DrainOutcome:
        cluster = self.connect()
        with _warm(cluster):
            return self._drain(cluster, node, mode, progress, force)

    def _drain(
        self, cluster: Cluster, node: str, mode: DrainMode, progress: Progress, force: bool
    ) -> DrainOutcome:
        source = self.source()
        snap = snapshot(source)
        preview = preview_drain(snap, node)
        _refuse(preview, force)
        host, target = preview.node, _node(snap, node)
        held = [h.vip for h in preview.handovers if h.holder]
        progress(f"preflight: {preview.summary}")
        label, availability = drain_change(mode, target.availability, _label(target))
        cluster.update_node(target.node_id, labels={NODE_DRAIN: label})
        progress(f"labelled {host} {NODE_DRAIN}={label}")
        self._converge(
            cluster,
            source,
            sorted({VipKey.parse(h.vip).stack for h in preview.handovers}),
            progress,
        )
        if availability is not None:
            cluster.update_node(target.node_id, availability=availability)
            was = target.availability
            note = "" if label == SWARM_DRAINED else f" (it was {was}: undrain leaves it drain)"
            progress(f"set {host} availability to drain{note}")

        def moved(s: Snapshot) -> bool:
            away = all(host not in v.holders and v.holders for v in s.vips if str(v.key) in held)
            return away and host not in _holders(s)

        final = snapshot(source, moved, self.timeout)
        return _outcome(final, host, held, moved(final))

    def undrain(self, node: str, progress: Progress) -> DrainOutcome:
        cluster = self.connect()
        with _warm(cluster):
            return self._undrain(cluster, node, progress)

    def _undrain(self, cluster: Cluster, node: str, progress: Progress) -> DrainOutcome:
        source = self.source()
        snap = snapshot(source)
        target = _node(snap, node)
        host = target.hostname
        availability = undrain_availability(_label(target), target.availability)
        cluster.update_node(target.node_id, labels={NODE_DRAIN: None}, availability=availability)
        progress(
            f"removed {NODE_DRAIN} from {host}; "
            + (f"availability {availability}" if availability else "availability unchanged")
        )
        stacks = undrain_stacks(snap, host, lambda: list(cluster.stored_specs()))
        self._converge(cluster, source, stacks, progress)  # waits on the agents' reports
        if not waits_on_reports():  # $SWARMVIP_PHASE_WAIT=docker: the previous path, measured
            cluster.wait_running_all(stacks, self.timeout)
        final = snapshot(source, lambda s: _settled_holders(s, stacks), self.timeout)
        who = ", ".join(
            f"{v.key} on {','.join(v.holders) or 'nobody'}" for v in final.vips if v.stack in stacks
        )
        return DrainOutcome(True, f"{host} is back in service; {who or 'no VIP group'}")


def _warm(cluster: Cluster) -> AbstractContextManager[None]:
    """The relay's sender started while the drain reads the swarm, when moves go through it."""
    return cluster.warm_relay() if sender_ahead() else nullcontext()


def undrain_stacks(snap: Snapshot, host: str, stored: Callable[[], list[str]]) -> list[str]:
    """The stacks an undrain converges: those whose VIPs list the node as a member, or, when
    none does, every stored stack. A member is known from its reports; right after its task
    restarted the manager may not have read one yet (measured after restart-path moves), and
    an undrain that converged nothing would leave the VIP away. Converging a stack that does
    not involve the node changes nothing. `stored` is asked only then (an engine read)."""
    mine = sorted({v.stack for v in snap.vips if host in {m.hostname for m in v.members}})
    return mine or sorted(stored())


def drain_change(mode: DrainMode, availability: str, label: str | None) -> tuple[str, str | None]:
    """(value for the drain label, availability to set or None) for draining a node now at
    `availability` whose drain label is `label`: the label remembers a swarm drain it did."""
    ours = label == SWARM_DRAINED  # an earlier drain --swarm turned it to drain
    if mode != "swarm":
        return (SWARM_DRAINED if ours else VIP_DRAINED), None
    if availability == "active":
        return SWARM_DRAINED, "drain"
    return (SWARM_DRAINED if ours else VIP_DRAINED), (None if availability == "drain" else "drain")


def undrain_availability(label: str | None, availability: str) -> str | None:
    """The availability undrain sets: active when drain --swarm set it and it is still drain;
    None (unchanged) otherwise."""
    return "active" if label == SWARM_DRAINED and availability == "drain" else None


def _label(node: NodeStatus) -> str | None:
    return dict(node.labels).get(NODE_DRAIN)


def _node(snap: Snapshot, name: str) -> NodeStatus:
    """The node named by id or hostname; DrainRefused (exit 2) naming the known nodes."""
    found, why = find_node(snap, name)
    if found is None:
        raise DrainRefused(
            [
                Problem(
                    "(command line)", "NODE", why or name, "check the node name (swarmvip status)"
                )
            ]
        )
    return found


def _settled_holders(snap: Snapshot, stacks: list[str]) -> bool:
    """Every VIP of these stacks has exactly its expected holder."""
    return all(v.holders == (v.expected_holder,) for v in snap.vips if v.stack in stacks)


def _holders(snap: Snapshot) -> set[str]:
    return {h for v in snap.vips for h in v.holders}


def _refuse(preview: DrainPreview, force: bool) -> None:
    if preview.refusal is None:
        return
    no_group = not preview.handovers
    if no_group or not force:
        fix = (
            "check the node name (swarmvip status)"
            if no_group
            else "add a backup node to the group, or use --force to drain anyway"
        )
        raise DrainRefused([Problem("(command line)", "NODE", preview.refusal, fix)])


def _outcome(snap: Snapshot, node: str, vips: list[str], ok: bool) -> DrainOutcome:
    moved = []
    for v in snap.vips:
        name = str(v.key)
        if name in vips:
            t = v.last_transition
            moved.append(
                Moved(
                    name,
                    node,
                    v.holders[0] if v.holders else None,
                    t.gap if t is not None else None,
                )
            )
    parts = [
        f"{m.vip}: {m.before} → {m.after or 'NOBODY'}"
        + ("" if m.gap is None else f" (gap {m.gap * 1000:.0f} ms)")
        for m in moved
    ]
    text = "; ".join(parts) or f"{node} held no VIP"
    if not ok:
        text = f"timed out: {text}" + (
            f"; {node} still holds a VIP" if node in _holders(snap) else ""
        )
    return DrainOutcome(ok, text, tuple(moved))

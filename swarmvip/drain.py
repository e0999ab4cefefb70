"""Drain and undrain a node: move its VIPs away make-before-break, and bring it back.

vip-only: label the node swarmvip.drain=true and converge every stack it serves (stored in the
swarm by deploy): the node stays a VRRP peer at the lowest priority, and converge moves the VIP
make-before-break (plan.handover) before the drained node's task changes. swarm: the same, then
the node's availability becomes drain. Both wait until the new holder is observed in the agents'
reports; an unreachable manager is an error before anything is written.
"""

from __future__ import annotations

from swarmvip.cluster import Cluster
from swarmvip.controller import default_identity
from swarmvip.converge import converge, snapshot
from swarmvip.deploy import prefixed
from swarmvip.drainapi import DrainMode, DrainOutcome, Moved, Progress
from swarmvip.errors import ConfigError, Problem
from swarmvip.labels import DRAIN
from swarmvip.stackfile import parse_stack
from swarmvip.status.drainplan import DrainPreview, preview_drain
from swarmvip.status.model import Snapshot
from swarmvip.status.source import ClusterSource


class DrainRefused(ConfigError):
    """The preflight says no (unknown node, not in a group, no backup left)."""


class ClusterActions:
    """Drain/undrain against a real swarm manager (DOCKER_HOST or host)."""

    def __init__(self, host: str | None = None, timeout: float = 60.0) -> None:
        self.host, self.timeout = host, timeout

    def _converge(
        self, cluster: Cluster, source: ClusterSource, stacks: list[str], progress: Progress
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
        source = ClusterSource(self.host, follow=True)
        preview = preview_drain(snapshot(source), node)
        _refuse(preview, force)
        cluster = Cluster.connect(self.host)
        held = [h.vip for h in preview.handovers if h.holder]
        progress(f"preflight: {preview.summary}")
        cluster.update_node(node, labels={DRAIN: "true"})
        progress(f"labelled {node} {DRAIN}=true")
        self._converge(
            cluster, source, sorted({h.vip.split("/")[0] for h in preview.handovers}), progress
        )
        if mode == "swarm":
            cluster.update_node(node, availability="drain")
            progress(f"set {node} availability to drain")

        def moved(s: Snapshot) -> bool:
            away = all(
                node not in v.holders and v.holders for v in s.vips if f"{v.stack}/{v.name}" in held
            )
            return away and node not in _holders(s)

        final = snapshot(source, moved, self.timeout)
        return _outcome(final, node, held, moved(final))

    def undrain(self, node: str, progress: Progress) -> DrainOutcome:
        source = ClusterSource(self.host, follow=True)
        snap = snapshot(source)
        if node not in {n.hostname for n in snap.nodes}:
            _refuse(preview_drain(snap, node), False)
        cluster = Cluster.connect(self.host)
        cluster.update_node(node, labels={DRAIN: None}, availability="active")
        progress(f"removed {DRAIN} from {node}; availability active")
        stacks = sorted({v.stack for v in snap.vips if node in {m.hostname for m in v.members}})
        self._converge(cluster, source, stacks, progress)
        cluster.wait_running_all(stacks, self.timeout)
        final = snapshot(source, lambda s: _settled_holders(s, stacks), self.timeout)
        who = ", ".join(
            f"{v.stack}/{v.name} on {','.join(v.holders) or 'nobody'}"
            for v in final.vips
            if v.stack in stacks
        )
        return DrainOutcome(True, f"{node} is back in service; {who or 'no VIP group'}")


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
        name = f"{v.stack}/{v.name}"
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

"""Drain preflight: which VIPs a node takes part in, who takes over each, and refusals. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from swarmvip.status.model import Snapshot, VipStatus


@dataclass(frozen=True, slots=True)
class Handover:
    vip: str  # stack/group
    holder: bool  # the node holds it now
    successor: str | None  # the node expected to take over (None: nobody healthy)


@dataclass(frozen=True, slots=True)
class DrainPreview:
    node: str
    handovers: tuple[Handover, ...]
    refusal: str | None  # why the drain would leave a VIP without a healthy holder

    @property
    def summary(self) -> str:
        if not self.handovers:
            return f"{self.node} holds no VIP and is in no VIP group"
        parts = [
            f"{h.vip}: {self.node} → {h.successor or 'NOBODY'}"
            if h.holder
            else f"{h.vip}: {self.node} is a backup"
            for h in self.handovers
        ]
        return "; ".join(parts)


def successor(vip: VipStatus, leaving: str) -> str | None:
    """The healthy member with the highest effective priority, other than `leaving`."""
    others = [m for m in vip.members if m.hostname != leaving and m.effective_priority is not None]
    best = max(others, key=lambda m: (m.effective_priority or 0, m.priority), default=None)
    return best.hostname if best else None


def preview_drain(snap: Snapshot, node: str) -> DrainPreview:
    """What draining `node` would do; refusal set when a VIP would be left with no backup."""
    if node not in {n.hostname for n in snap.nodes}:
        known = ", ".join(sorted(n.hostname for n in snap.nodes)) or "none"
        return DrainPreview(node, (), f"no node named {node!r} (nodes: {known})")
    handovers = tuple(
        Handover(f"{v.stack}/{v.name}", node in v.holders, successor(v, node))
        for v in snap.vips
        if node in {m.hostname for m in v.members}
    )
    if not handovers:
        return DrainPreview(node, (), f"{node} is not in any VIP group: nothing to drain")
    stranded = [h.vip for h in handovers if h.successor is None]
    refusal = f"no healthy backup would remain for {', '.join(stranded)}" if stranded else None
    return DrainPreview(node, handovers, refusal)

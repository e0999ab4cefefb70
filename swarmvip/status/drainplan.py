"""Drain preflight: which VIPs a node takes part in, who takes over each, and refusals. Pure.

A node is named by its id or its hostname (like `docker node`); an id wins, and a hostname two
nodes share is refused with both ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from swarmvip.status.model import NodeStatus, Snapshot, VipStatus
from swarmvip.status.rules import best_candidate


@dataclass(frozen=True, slots=True)
class Handover:
    vip: str  # stack/group
    holder: bool  # the node holds it now
    successor: str | None  # the node expected to take over (None: nobody healthy)


@dataclass(frozen=True, slots=True)
class DrainPreview:
    node: str  # the node's hostname (as given when no node matched)
    handovers: tuple[Handover, ...]
    refusal: str | None  # why the drain would leave a VIP without a healthy holder
    node_id: str = ""  # the node's id ("" when no node matched)

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
    best = best_candidate(vip.members, leaving)
    return best.hostname if best else None


def find_node(snap: Snapshot, node: str) -> tuple[NodeStatus | None, str | None]:
    """(the node named by id or hostname, None) or (None, why not)."""
    by_id = [n for n in snap.nodes if n.node_id == node]
    named = by_id or [n for n in snap.nodes if n.hostname == node]
    if len(named) == 1:
        return named[0], None
    if named:
        ids = ", ".join(sorted(n.node_id for n in named))
        return None, f"{len(named)} nodes are named {node!r} (ids {ids}): give the node id"
    known = ", ".join(sorted(n.hostname for n in snap.nodes)) or "none"
    return None, f"no node named {node!r} (nodes: {known})"


def preview_drain(snap: Snapshot, node: str) -> DrainPreview:
    """What draining `node` (id or hostname) would do; refusal set when a VIP would be left with
    no backup."""
    found, why = find_node(snap, node)
    if found is None:
        return DrainPreview(node, (), why)
    host = found.hostname
    handovers = tuple(
        Handover(str(v.key), host in v.holders, successor(v, host))
        for v in snap.vips
        if host in {m.hostname for m in v.members}
    )
    if not handovers:
        alone = f"{host} is not in any VIP group: nothing to drain"
        return DrainPreview(host, (), alone, found.node_id)
    stranded = [h.vip for h in handovers if h.successor is None]
    refusal = f"no healthy backup would remain for {', '.join(stranded)}" if stranded else None
    return DrainPreview(host, handovers, refusal, found.node_id)

"""Tie-free VRRP priorities for the nodes of one VIP group. Pure.

Rule (documented in the README): a node's `swarmvip.priority[.<group>]` label wins; the other
nodes, ordered by (hostname, node id), get 250, 240, 230, … (the step shrinks when the group has
more than 24 nodes), skipping values labels already took. Two labels with one value is an error.

Drained nodes (label swarmvip.drain=true) stay in the group as peers, so no other node's config
changes, but get the lowest priorities (1, 2, …). Moving the VIP off a drained holder without a
hole is the job of plan.handover, not of the priorities.
"""

from __future__ import annotations

from collections.abc import Sequence

TOP = 250
STEP = 10


class PriorityConflict(ValueError):
    """Two nodes of one group carry the same priority label, or there are too many nodes."""


def assign_priorities(
    nodes: Sequence[tuple[str, str, int | None]],
) -> dict[str, int]:
    """nodes: (node id, hostname, labelled priority or None) → {node id: priority}."""
    explicit: dict[int, str] = {}
    for _node_id, hostname, priority in nodes:
        if priority is None:
            continue
        if priority in explicit:
            raise PriorityConflict(
                f"nodes {explicit[priority]} and {hostname} both have priority {priority}"
            )
        explicit[priority] = hostname
    result = {node_id: p for node_id, _, p in nodes if p is not None}
    auto = sorted((hostname, node_id) for node_id, hostname, p in nodes if p is None)
    if len(result) + len(auto) > 254:
        raise PriorityConflict(f"{len(nodes)} nodes exceed VRRP's 254 priorities")
    step = max(1, min(STEP, (TOP - 1) // max(len(auto), 1)))
    taken = set(explicit)
    value = TOP
    for _, node_id in auto:
        value = _next_free(value, taken)
        result[node_id] = value
        taken.add(value)
        value -= step
    return result


def with_drained(base: dict[str, int], drained: set[str]) -> dict[str, int]:
    """Drained nodes take the lowest priorities (1, 2, …); everyone else keeps theirs."""
    result = dict(base)
    for offset, node_id in enumerate(sorted(drained, key=lambda n: base[n])):
        result[node_id] = 1 + offset
    return result


def _next_free(value: int, taken: set[int]) -> int:
    """The highest free priority at or below value, else the highest free one above it."""
    for candidate in range(min(value, 254), 0, -1):
        if candidate not in taken:
            return candidate
    for candidate in range(value + 1, 255):
        if candidate not in taken:
            return candidate
    raise PriorityConflict("no free priority left")

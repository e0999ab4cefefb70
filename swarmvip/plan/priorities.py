"""Tie-free VRRP priorities for the VIP groups of one stack. Pure.

Rule (documented in the README, "Node labels"): a node's `swarmvip.priority[.<group>]` label
wins; the other nodes of a group (its auto nodes) get 250, 240, 230, … (the step shrinks when
the group has more than 24 of them), skipping values labels already took, in the group's
order: its balanced first node (plan.spread.balanced_firsts), then the others by rendezvous
weight (plan.spread.by_weight). Two labels with one value is an error.

A group whose highest label is above the value its first auto node would get is held by that
labelled node: it is `pinned` there, counts as that node's load in the balance, and orders its
auto nodes by weight alone.

Drained nodes (label swarmvip.drain=true) stay in the group as peers and in the ranking, so
draining changes no other node's config (and no other group's first node), but get the lowest
free priorities (1, 2, …; below every other node unless a label is that low). Moving the VIP
off a drained holder without a hole is the job of plan.handover, not of the priorities.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from swarmvip.plan.spread import balanced_firsts, by_weight, weights
from swarmvip.wire.keys import VipKey

TOP = 250
STEP = 10
MAX = 254


class PriorityConflict(ValueError):
    """Two nodes of one group carry the same priority label, or there are too many nodes."""


@dataclass(frozen=True, slots=True)
class Ranked:
    """One member of a group as the priorities see it."""

    node_id: str
    hostname: str
    label: int | None = None  # swarmvip.priority[.<group>]
    drained: bool = False


def stack_priorities(
    stack: str, groups: Mapping[str, Sequence[Ranked]]
) -> tuple[dict[str, dict[str, int]], dict[str, PriorityConflict]]:
    """{group: {node id: priority}} for every group, and {group: conflict} for the groups whose
    labels cannot be honoured (those take no part in the balance)."""
    conflicts: dict[str, PriorityConflict] = {}
    valid: dict[str, Sequence[Ranked]] = {}
    for name, members in groups.items():
        try:
            _check(members)
        except PriorityConflict as exc:
            conflicts[name] = exc
        else:
            valid[name] = members
    pinned = {name: _label_holder(members) for name, members in valid.items()}
    weighted = {
        name: weights(VipKey(stack, name), (m.node_id for m in members if m.label is None))
        for name, members in valid.items()
    }
    first = balanced_firsts(
        {VipKey(stack, name): weighted[name] for name in valid if pinned[name] is None},
        Counter(node for node in pinned.values() if node is not None),
    )
    result = {}
    for name, members in valid.items():
        order = by_weight(weighted[name])
        top = first.get(VipKey(stack, name))
        if top is not None:
            order = [top, *(n for n in order if n != top)]
        labels = {m.node_id: m.label for m in members if m.label is not None}
        base = assign_priorities(order, labels)
        result[name] = with_drained(base, {m.node_id for m in members if m.drained})
    return result, conflicts


def assign_priorities(order: Sequence[str], labels: Mapping[str, int]) -> dict[str, int]:
    """order: the auto nodes, best first; labels: {node id: labelled priority} (distinct) →
    {node id: priority}: the labels, and 250, 240, … down `order`, skipping labelled values."""
    if len(order) + len(labels) > MAX:
        raise PriorityConflict(f"{len(order) + len(labels)} nodes exceed VRRP's 254 priorities")
    result = dict(labels)
    taken = set(labels.values())
    step = max(1, min(STEP, (TOP - 1) // max(len(order), 1)))
    value = TOP
    for node_id in order:
        value = _next_free(value, taken)
        result[node_id] = value
        taken.add(value)
        value -= step
    return result


def with_drained(base: Mapping[str, int], drained: set[str]) -> dict[str, int]:
    """Drained nodes take the lowest priorities no other node has (1, 2, … in their base
    order); everyone else keeps theirs."""
    result = dict(base)
    taken = {p for n, p in base.items() if n not in drained}
    free = (p for p in range(1, MAX + 1) if p not in taken)
    for node_id in sorted(drained, key=lambda n: (base[n], n)):
        result[node_id] = next(free)
    return result


def _check(members: Sequence[Ranked]) -> None:
    """Two labels with one value, or more members than VRRP has priorities."""
    seen: dict[int, str] = {}
    for m in members:
        if m.label is None:
            continue
        if m.label in seen:
            raise PriorityConflict(
                f"nodes {seen[m.label]} and {m.hostname} both have priority {m.label}"
            )
        seen[m.label] = m.hostname
    if len(members) > MAX:
        raise PriorityConflict(f"{len(members)} nodes exceed VRRP's 254 priorities")


def _label_holder(members: Sequence[Ranked]) -> str | None:
    """The labelled node whose priority beats every auto node's, if any."""
    labelled = [m for m in members if m.label is not None]
    if not labelled:
        return None
    best = max(labelled, key=lambda m: m.label or 0)
    auto_top = _next_free(TOP, {m.label for m in labelled if m.label is not None})
    has_auto = any(m.label is None for m in members)
    return best.node_id if not has_auto or (best.label or 0) > auto_top else None


def _next_free(value: int, taken: set[int]) -> int:
    """The highest free priority at or below value, else the lowest free one above it."""
    for candidate in range(min(value, MAX), 0, -1):
        if candidate not in taken:
            return candidate
    for candidate in range(value + 1, MAX + 1):
        if candidate not in taken:
            return candidate
    raise PriorityConflict("no free priority left")

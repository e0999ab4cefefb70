"""Which node each VIP group of one stack prefers: rendezvous ranking, balanced first choices.

Pure; the priorities module turns the order into VRRP priorities.

Ranking. Every (group, node) pair has a weight, sha256 of `stack/group NUL node-id`; a group
ranks its nodes by weight, highest first, equal weights by node id (`hash_order`). The weight
depends on that pair alone, so a node joining or leaving changes no other node's place in any
group's order (rendezvous hashing).

First choices (`first_choices`). Pure rendezvous hashing puts three groups of three nodes on
three different nodes only 2 times in 9, so each group's first node is balanced over the stack
in levels 0, 1, 2, …: in level L the (group, node) pairs are taken by weight, highest first
(ties: node id, then group), and a pair is taken when its group has no first node yet, its
node got no group in this level and is first in at most L groups so far. A node's `pinned`
groups (whose holder a label decides) count as groups it is first in.

Guarantees, each a property test in tests/unit/test_priorities.py:

- deterministic: a function of the groups' candidate sets (and pins) alone, in any input order;
- balanced: when all groups have the same candidates and nothing is pinned, each of N nodes is
  first in ⌊G/N⌋ or ⌈G/N⌉ of the G groups (never more than ⌈G/N⌉; three groups on three nodes
  get three different first nodes);
- pure rendezvous where it is balanced: when no two groups share a top-weight node (and no
  top is pinned), every group gets its top-weight node, so a joining node then moves exactly
  the groups that rank it first;
- bounded moves: while no two groups share a first node (before and after; e.g. G <= N with
  the same candidates), a joining node never gives a group a node it weighs lower: each group
  keeps its first node or moves to one it weighs higher, the new node or a node another moved
  group left (a chain, which can be longer than one: the strict rendezvous rule cannot be kept
  together with the balance). A node leaving is the same read backwards;
- no promise beyond the balance when several levels are needed (more groups than nodes): a
  join or leave may then also move groups between the other nodes.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Iterable, Mapping

from swarmvip.wire.keys import VipKey


def weights(group: VipKey, node_ids: Iterable[str]) -> dict[str, int]:
    """{node id: rendezvous weight of (group, node)}: sha256 of `stack/group NUL node-id`."""
    prefix = f"{group}\0"
    return {
        n: int.from_bytes(hashlib.sha256((prefix + n).encode()).digest(), "big")
        for n in set(node_ids)
    }


def weight(group: VipKey, node_id: str) -> int:
    """The rendezvous weight of (group, node): its place in the group's order, highest first."""
    return weights(group, (node_id,))[node_id]


def by_weight(weighted: Mapping[str, int]) -> list[str]:
    """Node ids by weight, highest first, equal weights by node id."""
    return sorted(weighted, key=lambda n: (-weighted[n], n))


def hash_order(group: VipKey, node_ids: Iterable[str]) -> list[str]:
    """The nodes as `group` ranks them: weight descending, equal weights by node id."""
    return by_weight(weights(group, node_ids))


def first_choices(
    candidates: Mapping[VipKey, Collection[str]],
    pinned: Mapping[str, int] | None = None,
) -> dict[VipKey, str]:
    """{group: its first node}, balanced as the module says. candidates: the nodes each group
    may rank first (groups without any get no entry); pinned: {node id: groups a label already
    makes it first in}, counted as its load."""
    return balanced_firsts({g: weights(g, nodes) for g, nodes in candidates.items()}, pinned)


def balanced_firsts(
    weighted: Mapping[VipKey, Mapping[str, int]],
    pinned: Mapping[str, int] | None = None,
) -> dict[VipKey, str]:
    """first_choices with the weights already computed ({group: {node id: weight}})."""
    keys = sorted(weighted, key=lambda g: (g.stack, g.group))
    pairs = sorted((-w, n, i) for i, g in enumerate(keys) for n, w in weighted[g].items())
    load = Counter(pinned or {})
    chosen: dict[int, str] = {}
    level = 0
    while pairs:
        taken: set[str] = set()
        for _, node, i in pairs:
            if i in chosen or node in taken or load[node] > level:
                continue
            chosen[i] = node
            taken.add(node)
        load.update(taken)
        pairs = [p for p in pairs if p[2] not in chosen]
        level += 1
    return {keys[i]: node for i, node in sorted(chosen.items())}

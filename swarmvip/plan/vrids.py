"""VRRP router ids: explicit ones kept, the rest allocated deterministically. Pure.

An allocated VRID starts at a stable hash of (stack, group) and probes upward past ids taken
in this stack or by any other deployed stack, so re-deploys keep their ids.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from swarmvip.wire.keys import VipKey


class VridConflict(ValueError):
    """An explicit VRID another stack uses, or no free VRID left."""


def allocate_vrids(
    stack: str,
    groups: Mapping[str, int | None],
    used_elsewhere: Mapping[int, str],
    current: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """groups: {name: explicit vrid or None}; used_elsewhere: {vrid: other stack};
    current: this stack's deployed {group: vrid}, kept when still free."""
    result: dict[str, int] = {}
    for name, vrid in groups.items():
        if vrid is None:
            continue
        if vrid in used_elsewhere:
            raise VridConflict(
                f"VRID {vrid} of {name} is already used by stack {used_elsewhere[vrid]}"
            )
        result[name] = vrid
    taken = set(result.values()) | set(used_elsewhere)
    auto = sorted(n for n, v in groups.items() if v is None)
    for name in auto:
        kept = (current or {}).get(name)
        if kept is not None and kept not in taken:
            result[name] = kept
            taken.add(kept)
    for name in (n for n in auto if n not in result):
        result[name] = _probe(zlib.crc32(str(VipKey(stack, name)).encode()) % 255 + 1, taken)
        taken.add(result[name])
    return result


def _probe(start: int, taken: set[int]) -> int:
    for offset in range(255):
        candidate = (start - 1 + offset) % 255 + 1
        if candidate not in taken:
            return candidate
    raise VridConflict("all 255 VRIDs are taken on this network")

"""Running totals over a stream of events: transitions and handover gaps per VIP. Pure.

A snapshot's history is bounded (the last few transitions, from a bounded report log), so a
counter that only ever grows cannot be read off one snapshot: the tally adds each poll's events
(status/events.py) instead. A handover seen in two halves counts once; its gap (seconds with no
holder; 0 for make-before-break) is observed when it is known. Gaps the reports cannot show (the
old holder died without a word) are not observed.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from swarmvip.status.events import TRANSITION, Event
from swarmvip.wire.keys import VipKey

# seconds; upper bounds of the gap histogram's buckets (+Inf is implied)
GAP_BUCKETS = (0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class VipTally:
    transitions: int = 0
    gap_counts: tuple[int, ...] = (0,) * (len(GAP_BUCKETS) + 1)  # per bucket, last: > 30 s
    gap_sum: float = 0.0

    @property
    def gap_count(self) -> int:
        return sum(self.gap_counts)

    def cumulative(self) -> tuple[int, ...]:
        """Observations <= each bound of GAP_BUCKETS, then the total (+Inf)."""
        out, running = [], 0
        for n in self.gap_counts:
            running += n
            out.append(running)
        return tuple(out)

    def observe(self, gap: float) -> VipTally:
        at = bisect.bisect_left(GAP_BUCKETS, gap)
        counts = list(self.gap_counts)
        counts[at] += 1
        return replace(self, gap_counts=tuple(counts), gap_sum=self.gap_sum + gap)


def _empty() -> Mapping[VipKey, VipTally]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Tally:
    vips: Mapping[VipKey, VipTally] = field(default_factory=_empty)

    def get(self, key: VipKey) -> VipTally:
        return self.vips.get(key) or VipTally()

    def add(self, events: Iterable[Event]) -> Tally:
        vips = dict(self.vips)
        for event in events:
            t = event.transition
            if event.kind != TRANSITION or t is None:
                continue
            vip = vips.get(t.key) or VipTally()
            done = event.completes
            if done is None:
                vip = replace(vip, transitions=vip.transitions + 1)
            if t.gap is not None and (done is None or done.gap is None):
                vip = vip.observe(t.gap)
            vips[t.key] = vip
        return Tally(MappingProxyType(vips))

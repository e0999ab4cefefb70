"""Pure measures of one failover run: client gap, failed requests, VIP moves, two-holder time.

Inputs are what the lab helpers collect (bench/failover_lab.py): the client probe's requests
`(sent_at, answered_by or None)` and each node's VIP add/delete events `(at, holds)`. All
timestamps are wall-clock seconds; containers share the host kernel's clock.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

Request = tuple[float, str | None]  # (sent at, hostname that answered or None = failed)
Event = tuple[float, bool]  # (at, the node holds the VIP from then on)


def rfc_bound(advert_int: float, backup_priority: int, version: int) -> float:
    """RFC 5798 Master_Down_Interval = 3 x Advertisement_Interval + Skew_Time.

    Skew_Time is ((256 - Priority) x Advertisement_Interval) / 256 in VRRPv3 and
    (256 - Priority) / 256 seconds in VRRPv2 (RFC 3768).
    """
    skew = (256 - backup_priority) / 256 * (advert_int if version == 3 else 1.0)
    return 3 * advert_int + skew


@dataclass(frozen=True, slots=True)
class ProbeMeasures:
    gap: float  # longest time between the send times of two successive successful requests
    failed: int
    requests: int
    moves: int  # changes of the answering hostname
    answered_by: tuple[str, ...]  # the sequence of distinct answering hostnames


def probe_measures(requests: Sequence[Request]) -> ProbeMeasures:
    ordered = sorted(requests)
    ok = [(t, who) for t, who in ordered if who is not None]
    gap = max((b[0] - a[0] for a, b in itertools.pairwise(ok)), default=0.0)
    seq: list[str] = []
    for _, who in ok:
        if who is not None and (not seq or seq[-1] != who):
            seq.append(who)
    return ProbeMeasures(
        gap=gap,
        failed=len(ordered) - len(ok),
        requests=len(ordered),
        moves=max(0, len(seq) - 1),
        answered_by=tuple(seq),
    )


def switches(requests: Sequence[Request], t0: float) -> list[tuple[float, str]]:
    """(send time after t0, new node) of every request answered by another node than the
    answered one before it."""
    out: list[tuple[float, str]] = []
    last = None
    for t, who in sorted(requests):
        if who is not None and who != last:
            if last is not None:
                out.append((round(t - t0, 3), who))
            last = who
    return out


def intervals(events: Iterable[Event], start: float, end: float) -> list[tuple[float, float]]:
    """Holding intervals clipped to [start, end] from a node's ordered add/delete events."""
    spans: list[tuple[float, float]] = []
    since: float | None = None
    for at, holds in sorted(events):
        if holds and since is None:
            since = at
        elif not holds and since is not None:
            spans.append((since, at))
            since = None
    if since is not None:
        spans.append((since, end))
    return [(max(a, start), min(b, end)) for a, b in spans if min(b, end) > max(a, start)]


def two_holder_spans(
    per_node: Mapping[str, Sequence[tuple[float, float]]], start: float, end: float
) -> list[tuple[float, float]]:
    """The spans in [start, end] during which two or more nodes held the VIP, in order."""
    edges: list[tuple[float, int]] = []
    for spans in per_node.values():
        for a, b in spans:
            edges += [(max(a, start), 1), (min(b, end), -1)]
    edges.sort(key=lambda e: (e[0], e[1]))
    out: list[tuple[float, float]] = []
    count, last = 0, start
    for at, step in edges:
        if count >= 2 and at > last:
            if out and out[-1][1] == last:
                out[-1] = (out[-1][0], at)
            else:
                out.append((last, at))
        count, last = count + step, at
    return out


def two_holder_time(
    per_node: Mapping[str, Sequence[tuple[float, float]]], start: float, end: float
) -> float:
    """Total time in [start, end] during which two or more nodes held the VIP."""
    return sum(b - a for a, b in two_holder_spans(per_node, start, end))


def first_hold(events: Iterable[Event], after: float) -> float | None:
    """When a node first got the VIP at or after `after` (None: never)."""
    return next((at for at, holds in sorted(events) if holds and at >= after), None)


@dataclass(frozen=True, slots=True)
class Stats:
    n: int
    min: float
    median: float
    max: float

    def fmt(self, unit: str = "s", digits: int = 3) -> str:
        if self.n == 0:
            return "-"
        if unit == "s" and self.max < 1:
            return f"{self.median * 1000:.0f} ms ({self.min * 1000:.0f}..{self.max * 1000:.0f})"
        u = f" {unit}" if unit else ""
        return f"{self.median:.{digits}g}{u} ({self.min:.{digits}g}..{self.max:.{digits}g})"


def stats(values: Iterable[float | None]) -> Stats:
    got = sorted(v for v in values if v is not None)
    if not got:
        return Stats(0, 0.0, 0.0, 0.0)
    return Stats(len(got), got[0], statistics.median(got), got[-1])


def holder_count_edges(
    per_node: Mapping[str, Sequence[tuple[float, float]]], start: float, end: float
) -> list[tuple[float, int]]:
    """[(at, number of holders from then on)] over [start, end): a first step at `start`."""
    edges: list[tuple[float, int]] = []
    for spans in per_node.values():
        for a, b in spans:
            edges += [(max(a, start), 1), (min(b, end), -1)]
    edges.sort(key=lambda e: (e[0], e[1]))
    steps, count = [(start, 0)], 0
    for at, step in edges:
        if at >= end:
            break
        count += step
        if at == steps[-1][0]:
            steps[-1] = (at, count)
        else:
            steps.append((at, count))
    return steps


def no_holder_time(
    per_node: Mapping[str, Sequence[tuple[float, float]]], start: float, end: float
) -> float:
    """Total time in [start, end] during which no node held the VIP."""
    steps = holder_count_edges(per_node, start, end)
    bounds = [at for at, _ in steps[1:]] + [end]
    return sum(b - a for (a, n), b in zip(steps, bounds, strict=True) if n == 0 and b > a)


def settled_at(
    per_node: Mapping[str, Sequence[tuple[float, float]]], since: float, end: float
) -> float | None:
    """The first time at or after `since` from which exactly one node held the VIP until
    `end` (None: not settled by then)."""
    steps = holder_count_edges(per_node, since, end)
    if steps[-1][1] != 1 or steps[-1][0] >= end:
        return None
    i = len(steps) - 1
    while i > 0 and steps[i - 1][1] == 1:
        i -= 1
    return steps[i][0]

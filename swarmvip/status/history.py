"""Holder history from agents' reports: when the holder set of a VIP changed, and the gap. Pure.

Reports come at transitions and as heartbeats. A node that stops holding reports it; a node that
dies says nothing, so its last report bounds when it was last seen holding. When another node
takes a VIP, a holder counts as gone (died without a word) when it was quiet for SILENT_AFTER
heartbeats, or when its own reports show it: its next line came only after it went stale
(STALE_AFTER of its own announced interval) or from a new agent process (seq restarts), or it
wrote nothing more while the newest report read is past its stale window. So a dead holder never
stays in the history, whatever the heartbeat period: a live one writes again within its interval.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from swarmvip.status.model import SILENT_AFTER, STALE_AFTER, Transition
from swarmvip.wire.report import Report

Key = tuple[str, str]  # (stack, group)


@dataclass
class _VipTrack:
    holding: dict[str, float] = field(default_factory=dict)  # hostname -> since
    last_seen: dict[str, float] = field(default_factory=dict)  # hostname -> last report ts
    # hostname -> (its last report, its next one in the batch or None): did it live on?
    heard: dict[str, tuple[Report, Report | None]] = field(default_factory=dict)
    newest: float = 0.0  # ts of the newest report in the batch (the reader's "now", roughly)
    released_at: float | None = None  # when the holder set last became empty
    transitions: list[Transition] = field(default_factory=list)


def _gone(track: _VipTrack, holder: str, ts: float, quiet: float) -> bool:
    """A holder died without a word: quiet too long, or its own later lines (or none) say so."""
    if ts - track.last_seen[holder] > quiet:
        return True
    last, after = track.heard[holder]
    stale = STALE_AFTER * last.interval
    if after is None:
        return track.newest - last.ts > stale
    return after.seq <= last.seq or after.ts - last.ts > stale


def _apply(
    track: _VipTrack, key: Key, report: Report, holds: bool, following: Report | None = None
) -> None:
    node, ts = report.node, report.ts
    before = tuple(sorted(track.holding))
    track.last_seen[node] = ts
    track.heard[node] = (report, following)
    if holds and node not in track.holding:
        quiet = SILENT_AFTER * report.interval
        silent = [h for h in track.holding if h != node and _gone(track, h, ts, quiet)]
        for h in silent:  # died without a word: it stopped holding when it went silent
            del track.holding[h]
        track.holding[node] = ts
        gap, overlap = _gap(track, before, silent, ts)
        track.transitions.append(
            Transition(ts, *key, before, tuple(sorted(track.holding)), gap, overlap)
        )
        track.released_at = None
    elif not holds and node in track.holding:
        overlap_start = max((t for h, t in track.holding.items() if h != node), default=None)
        del track.holding[node]
        if not track.holding:
            track.released_at = ts
        after = tuple(sorted(track.holding))
        overlap = ts - overlap_start if overlap_start is not None else 0.0
        track.transitions.append(
            Transition(ts, *key, before, after, 0.0 if after else None, overlap)
        )


def _gap(
    track: _VipTrack, before: tuple[str, ...], silent: list[str], ts: float
) -> tuple[float | None, float]:
    if not before:
        return (ts - track.released_at if track.released_at is not None else None), 0.0
    if silent and len(silent) == len(before):
        return None, 0.0  # the old holder died: the gap is not observable from reports
    return 0.0, 0.0


def transitions(reports: Iterable[Report]) -> dict[Key, list[Transition]]:
    """Every holder change per (stack, group), oldest first."""
    tracks: dict[Key, _VipTrack] = {}
    ordered = sorted(reports, key=lambda r: (r.ts, r.node, r.seq))
    following: dict[tuple[str, str], Report] = {}  # (stack, node) -> its next report
    nexts: list[Report | None] = []
    for report in reversed(ordered):
        nexts.append(following.get((report.stack, report.node)))
        following[(report.stack, report.node)] = report
    for report, after in zip(ordered, reversed(nexts), strict=True):
        for inst in report.instances:
            key = (report.stack, inst.group)
            track = tracks.setdefault(key, _VipTrack(newest=ordered[-1].ts))
            holds = inst.holds_vip and report.keepalived == "running"
            _apply(track, key, report, holds, after)
    return {k: t.transitions for k, t in tracks.items()}


def _transient(prev: Transition, t: Transition) -> bool:
    """prev then t form one handover: A → ∅ → B (a hole) or A → A+B → B (an overlap)."""
    if t.before != prev.after or not prev.before or not t.after:
        return False
    hole = not prev.after
    overlap = set(prev.before) < set(prev.after) and set(t.after) < set(t.before)
    return hole or (overlap and set(t.after) != set(prev.before))


def merged_handovers(history: list[Transition], window: float = 30.0) -> list[Transition]:
    """Pair the two halves of a handover into one transition carrying its gap or overlap."""
    merged: list[Transition] = []
    for t in history:
        prev = merged[-1] if merged else None
        if prev is not None and t.at - prev.at <= window and _transient(prev, t):
            hole = not prev.after
            merged[-1] = Transition(
                t.at,
                t.stack,
                t.group,
                prev.before,
                t.after,
                t.at - prev.at if hole else 0.0,
                0.0 if hole else t.at - prev.at,
            )
        else:
            merged.append(t)
    return merged

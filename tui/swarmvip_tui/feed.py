"""What the event log should say about a new snapshot: new transitions and alarm changes. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from swarmvip.present.status_view import gap_text
from swarmvip.status.model import Alarm, Snapshot, Transition


def clock_text(ts: float) -> str:
    """HH:MM:SS in local time."""
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S")


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    text: str
    level: str = "info"  # info, move, alarm, cleared, error, progress


def transition_text(t: Transition) -> str:
    before = ",".join(t.before) or "nobody"
    after = ",".join(t.after) or "NOBODY"
    return f"{t.key}: {before} → {after} — {gap_text(t)}"


def _alarm_key(a: Alarm) -> tuple[str, str]:
    return (a.kind, a.subject)


@dataclass
class EventFeed:
    """Remembers what was already logged: transitions by (stack, group, at), alarms by subject."""

    seen: set[tuple[str, str, float]] = field(default_factory=set)
    alarms: dict[tuple[str, str], Alarm] = field(default_factory=dict)
    progress: frozenset[str] = frozenset()  # the progress lines shown last

    def update(self, snap: Snapshot, now: float) -> list[Event]:
        return self._transitions(snap) + self._alarm_changes(snap, now) + self._progress(snap, now)

    def _progress(self, snap: Snapshot, now: float) -> list[Event]:
        """A planned change's steps, each logged once when it shows up."""
        events = [
            Event(now, line, "progress") for line in snap.progress if line not in self.progress
        ]
        self.progress = frozenset(snap.progress)
        return events

    def _transitions(self, snap: Snapshot) -> list[Event]:
        fresh: list[Transition] = []
        for vip in snap.vips:
            candidates = [*vip.history]
            if vip.last_transition is not None:
                candidates.append(vip.last_transition)
            for t in candidates:
                key = (t.stack, t.group, t.at)
                if key not in self.seen:
                    self.seen.add(key)
                    fresh.append(t)
        fresh.sort(key=lambda t: (t.at, t.stack, t.group))
        level = "move"
        return [
            Event(t.at, transition_text(t), "alarm" if len(t.after) > 1 else level) for t in fresh
        ]

    def _alarm_changes(self, snap: Snapshot, now: float) -> list[Event]:
        current = {_alarm_key(a): a for a in snap.alarms}
        events = [
            Event(
                now,
                f"ALARM {a.kind} {a.subject}: {a.message}",
                "alarm" if a.severity == "critical" else "warning",
            )
            for key, a in current.items()
            if key not in self.alarms
        ]
        events += [
            Event(now, f"cleared {a.kind} {a.subject}", "cleared")
            for key, a in self.alarms.items()
            if key not in current
        ]
        self.alarms = current
        return events

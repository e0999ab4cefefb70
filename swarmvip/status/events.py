"""What changed between two consecutive snapshots: transitions and alarm changes, as events. Pure.

`swarmvip events` prints them, the controller's metrics count them (status/tally.py). Kinds:

* `transition`: a VIP's holder set changed (a new entry of its merged history, status/history.py).
  The two halves of one handover (A → ∅ → B, or A → A+B → B) may arrive in two polls: the second
  then REPLACES the first in the history (merged_handovers); its event carries `completes`, the
  half it completes, so a counter counts the handover once and its gap is known only then.
* `alarm` / `cleared`: an alarm (kind, subject) appeared / went away. The first snapshot
  (prev None) reports every active alarm once and no transition: history before the start is
  not news.
* `unreachable` / `reachable`: the status source failed / answered again (a failed poll's
  snapshot carries `error`; its data is the last good one, so nothing else changes).

A transition is new when it is later than the VIP's last one in `prev`. A VIP that had no
history in `prev` (just deployed, or its reports' backlog not read yet) counts only transitions
at most RECENT seconds older than `prev`: a backlog arriving late is not news.
"""

from __future__ import annotations

from dataclasses import dataclass

from swarmvip.status.model import Alarm, Snapshot, Transition, VipStatus
from swarmvip.wire.keys import VipKey

RECENT = 10.0  # seconds: see the module doc

TRANSITION, ALARM, CLEARED = "transition", "alarm", "cleared"
UNREACHABLE, REACHABLE = "unreachable", "reachable"


@dataclass(frozen=True, slots=True)
class Event:
    """One change. `at`: the transition's time (the agent's clock), else the poll's."""

    kind: str  # transition, alarm, cleared, unreachable, reachable
    at: float
    transition: Transition | None = None
    completes: Transition | None = None  # the half-handover this transition replaces
    alarm: Alarm | None = None
    error: str | None = None  # unreachable: why

    @property
    def subject(self) -> str:
        if self.transition is not None:
            return str(self.transition.key)
        if self.alarm is not None:
            return self.alarm.subject
        return "manager"


def _halfway(t: Transition) -> bool:
    """The first half of a handover: the holder left (A → ∅) or a second one came (A → A+B)."""
    return bool(t.before) and (not t.after or set(t.before) < set(t.after))


def new_transitions(prev: VipStatus | None, cur: VipStatus, since: float) -> list[Event]:
    """The transitions of `cur` that `prev` (the same VIP one poll earlier) did not have."""
    last = prev.last_transition if prev is not None else None
    if last is None:
        fresh = [t for t in cur.history if t.at >= since - RECENT]
        return [Event(TRANSITION, t.at, t) for t in fresh]
    fresh = [t for t in cur.history if t.at > last.at]
    replaced = (
        fresh and last not in cur.history and _halfway(last) and fresh[0].before == last.before
    )
    events = [Event(TRANSITION, t.at, t) for t in fresh]
    if replaced:
        events[0] = Event(TRANSITION, fresh[0].at, fresh[0], completes=last)
    return events


def _alarm_key(a: Alarm) -> tuple[str, str]:
    return (a.kind, a.subject)


def alarm_changes(prev: Snapshot | None, cur: Snapshot, now: float) -> list[Event]:
    before = {_alarm_key(a): a for a in prev.alarms} if prev is not None else {}
    after = {_alarm_key(a): a for a in cur.alarms}
    raised = [Event(ALARM, now, alarm=a) for k, a in after.items() if k not in before]
    cleared = [Event(CLEARED, now, alarm=a) for k, a in before.items() if k not in after]
    return raised + cleared


def diff(prev: Snapshot | None, cur: Snapshot, now: float | None = None) -> tuple[Event, ...]:
    """Every event between `prev` (None: the first poll) and `cur`; `now` (default: cur's
    generated_at) stamps alarm and reachability events."""
    now = cur.generated_at if now is None else now
    events: list[Event] = []
    if cur.error and (prev is None or not prev.error):
        events.append(Event(UNREACHABLE, now, error=cur.error))
    elif prev is not None and prev.error and not cur.error:
        events.append(Event(REACHABLE, now))
    if prev is not None:
        earlier: dict[VipKey, VipStatus] = {v.key: v for v in prev.vips}
        moved = [
            e for v in cur.vips for e in new_transitions(earlier.get(v.key), v, prev.generated_at)
        ]
        events += sorted(moved, key=lambda e: (e.at, e.subject))
    events += alarm_changes(prev, cur, now)
    return tuple(events)

"""Present one event of `swarmvip events`: a text line, or a JSON object (one per line). Pure.

JSON (keys are only ever added):
  {"event": "transition", "at": unix, "stack", "group", "vip": "stack/group",
   "from": [hostname..], "to": [hostname..], "gap": s|null, "overlap": s, "completes": bool}
  {"event": "alarm" | "cleared", "at": unix, "kind", "subject", "severity", "message"}
  {"event": "unreachable", "at": unix, "error": str}    {"event": "reachable", "at": unix}

`completes`: this transition completes a handover whose first half (the holder leaving, or a
second holder coming) was an earlier event. Text lines pass swarm-provided strings through
`printable` (no terminal escapes); JSON escapes them itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from swarmvip.present.planview import printable as p
from swarmvip.present.status_view import gap_text
from swarmvip.status.events import ALARM, CLEARED, TRANSITION, UNREACHABLE, Event


def to_json(event: Event) -> dict[str, Any]:
    doc: dict[str, Any] = {"event": event.kind, "at": round(event.at, 3)}
    t, a = event.transition, event.alarm
    if event.kind == TRANSITION and t is not None:
        doc |= {
            "stack": t.stack,
            "group": t.group,
            "vip": str(t.key),
            "from": list(t.before),
            "to": list(t.after),
            "gap": t.gap,
            "overlap": t.overlap,
            "completes": event.completes is not None,
        }
    elif a is not None:
        doc |= {"kind": a.kind, "subject": a.subject, "severity": a.severity}
        doc |= {"message": a.message} if event.kind == ALARM else {}
    elif event.kind == UNREACHABLE:
        doc["error"] = event.error
    return doc


def line(event: Event) -> str:
    """`HH:MM:SS <what>`, local time."""
    stamp = datetime.fromtimestamp(event.at).strftime("%H:%M:%S")
    t, a = event.transition, event.alarm
    if event.kind == TRANSITION and t is not None:
        before = ",".join(t.before) or "nobody"
        after = ",".join(t.after) or "NOBODY"
        what = f"transition {t.key}: {before} -> {after} ({gap_text(t)})"
    elif event.kind == ALARM and a is not None:
        what = f"ALARM {a.kind} {a.subject}: {a.message} [{a.severity}]"
    elif event.kind == CLEARED and a is not None:
        what = f"cleared {a.kind} {a.subject}"
    elif event.kind == UNREACHABLE:
        what = f"manager unreachable: {event.error}"
    else:
        what = "manager reachable again"
    return f"{stamp} {p(what)}"

"""Present a Snapshot: the versioned JSON document of `status --json` and the human table. Pure.

JSON schema 1 (keys are only ever added within a version):
  {"schema": 1, "generated_at": unix, "stale": bool, "error": str|null,
   "reason": "no-leader"|"unavailable"|"error"|null,   # why `error` (exit 3): no raft leader,
                                                      # no engine answered, anything else
   "vips": [{"stack", "name", "addresses": [..], "vrid", "preemption",
             "holders": [hostname..], "expected_holder": hostname|null, "since": unix|null,
             "partial": [hostname..], "presence": {address: [hostname..]},
             "unknown": [hostname..],   # members whose reports could not be read (holder-unknown)
             "last_transition": {"at", "from": [..], "to": [..], "gap": s|null, "overlap": s}|null,
             "members": [{"hostname", "priority", "effective_priority", "vrrp_state"}],
             "history": [transition..]}],
   "nodes": [{"hostname", "node_id", "addr", "role", "availability", "state", "labels": {..},
              "task_state", "vrrp_state": {"stack/group": state}, "holds": ["stack/group"],
              "report_age": s|null, "interface"}],
   "alarms": [{"kind", "subject", "message", "severity"}],
   "controller": {"healthy", "leader", "last_reconcile", "pending", "last_error", "age"}|null,
   "writer": identity|null,   # who holds the write lease: a planned change is being applied
   "progress": [line..]}      # that change's steps in progress (never alarms, exit code 0)

Swarm-provided strings (hostnames, task errors, labels) reach the table only through
`printable`, so they cannot inject terminal escape sequences; JSON escapes them itself.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from swarmvip.present.planview import printable as p
from swarmvip.status.model import SCHEMA, Snapshot, Transition


def _transition(t: Transition | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "at": t.at,
        "from": list(t.before),
        "to": list(t.after),
        "gap": t.gap,
        "overlap": t.overlap,
    }


def to_json(snap: Snapshot) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "generated_at": snap.generated_at,
        "stale": snap.stale,
        "error": snap.error,
        "reason": snap.reason,
        "vips": [
            {
                "stack": v.stack,
                "name": v.name,
                "addresses": list(v.addresses),
                "vrid": v.vrid,
                "preemption": v.preemption,
                "holders": list(v.holders),
                "expected_holder": v.expected_holder,
                "since": v.since,
                "partial": list(v.partial),
                "presence": {a: list(on) for a, on in v.presence},
                "unknown": list(v.unknown),
                "last_transition": _transition(v.last_transition),
                "members": [asdict(m) for m in v.members],
                "history": [_transition(t) for t in v.history],
            }
            for v in snap.vips
        ],
        "nodes": [
            {
                "hostname": n.hostname,
                "node_id": n.node_id,
                "addr": n.addr,
                "role": n.role,
                "availability": n.availability,
                "state": n.state,
                "labels": dict(n.labels),
                "task_state": n.task_state,
                "vrrp_state": dict(n.vrrp_states),
                "holds": list(n.holds),
                "report_age": n.report_age,
                "interface": n.interface,
            }
            for n in snap.nodes
        ],
        "alarms": [asdict(a) for a in snap.alarms],
        "controller": asdict(snap.controller) if snap.controller else None,
        "writer": snap.writer,
        "progress": list(snap.progress),
    }


def ago(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return "-"
    seconds = max(0.0, (now if now is not None else time.time()) - ts)
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    return f"{seconds / 60:.0f}m ago" if seconds < 7200 else f"{seconds / 3600:.0f}h ago"


def gap_text(t: Transition | None) -> str:
    if t is None:
        return "-"
    if not t.before:
        return "first holder"
    if t.gap is None:
        return "gap ?"
    return f"gap {t.gap * 1000:.0f} ms" if t.gap else f"no gap (overlap {t.overlap * 1000:.0f} ms)"


def table(snap: Snapshot) -> str:
    now = snap.generated_at
    lines = []
    if snap.error:  # "the swarm has no leader (…)" says it all; anything else: unreachable
        what = "" if snap.reason == "no-leader" else "manager unreachable: "
        lines.append(f"!! {what}{p(snap.error)}")
    lines.append(
        f"{'VIP':<22} {'ADDRESSES':<20} {'VRID':>4}  {'HOLDER':<12} {'EXPECTED':<12} "
        f"{'SINCE':<9} LAST"
    )
    for v in snap.vips:
        holder = ",".join(v.holders) or ("unknown" if v.unknown else "NONE")
        if v.partial:
            holder += "".join(f",{h}(partial)" for h in v.partial)
        lines.append(
            f"{p(str(v.key)):<22} {p(','.join(v.addresses)):<20} {v.vrid:>4}  "
            f"{p(holder):<12} {p(v.expected_holder or '-'):<12} {ago(v.since, now):<9} "
            f"{gap_text(v.last_transition)}"
        )
    lines.append("")
    lines.append(
        f"{'NODE':<12} {'ADDR':<15} {'ROLE':<8} {'AVAIL':<7} {'TASK':<9} "
        f"{'VRRP':<22} {'IFACE':<8} REPORT"
    )
    for n in snap.nodes:
        vrrp = ",".join(s for _, s in n.vrrp_states) or "-"
        lines.append(
            f"{p(n.hostname):<12} {p(n.addr):<15} {p(n.role):<8} {p(n.availability):<7} "
            f"{p(n.task_state):<9} {p(vrrp):<22} {p(n.interface or '-'):<8} "
            f"{'-' if n.report_age is None else f'{n.report_age:.1f}s'}"
        )
    if snap.controller is not None:
        c = snap.controller
        lines.append("")
        lines.append(
            f"controller: {'healthy' if c.healthy else 'UNHEALTHY'}, leader "
            f"{p(c.leader or '-')}, last reconcile {ago(c.last_reconcile, now)}, "
            f"pending {c.pending}" + (f", last error: {p(c.last_error)}" if c.last_error else "")
        )
    if snap.writer is not None:
        lines.append("")
        lines.append(f"applying: a planned change by {p(snap.writer)}")
        lines += [f"PROGRESS {p(line)}" for line in snap.progress]
    if snap.alarms:
        lines.append("")
        lines += [
            f"ALARM {p(a.severity)}: {p(a.kind)} {p(a.subject)}: {p(a.message)}"
            for a in snap.alarms
        ]
    return "\n".join(lines)

"""The agent's state report: one self-contained JSON line on stdout, read via service logs.

Schema, version 1 (`"swarmvip_report": 1` marks a line as a report; keys are never removed
within a version, new optional keys may be added):

    {"swarmvip_report": 1,
     "kind": "state" | "heartbeat" | "fault",   # state: something changed; heartbeat: periodic;
                                                 # fault: the agent cannot run keepalived (reason)
     "ts": 1763762400.123,        # unix time (float) when the line was written
     "seq": 7,                    # per agent process, starts at 1, +1 per line
     "interval": 10.0,            # heartbeat period: a node silent for ~3x this is unknown
     "version": "0.1.0",          # swarmvip version of the agent
     "stack": "web", "node": "<hostname>", "node_id": "<swarm node id>",
     "interface": "eth0" | null,  # null until detected
     "keepalived": "starting" | "running" | "exited" | "stopped",
     "instances": [{"group": "web", "vrid": 51,
                    "priority": 150,   # the priority the instance runs with: the configured one
                                       # plus the runtime delta (wire.command), before check
                                       # weights (the configured one from agents that
                                       # report no "control" key)
                    "vrrp_state": "MASTER" | "BACKUP" | "FAULT" | "STOP" | "UNKNOWN",
                    "vips": ["10.0.0.100/24"],          # configured
                    "vips_present": ["10.0.0.100/24"],  # observed on the interface (netlink)
                    "holds_vip": true,                  # every configured VIP is present
                    "checks": {"http": "ok" | "failing" | "unknown"},
                    "after_release": {"from": "10.0.0.12", "ts": 1763762399.9}}],
                      # optional, MASTER only: it took over on this address's priority-0
                      # advert (agent.adverts), at ts; absent: not MASTER, or the master went
                      # silent (died, partition)
     "reason": null | "why the agent is in fault / keepalived is not running",
     "spec": "3f2a9c0e1b7d",      # optional: the task's service spec hash ($SWARMVIP_SPEC)
     "faults": ["check web.http: ..."],  # optional, only when non-empty: agent faults (a
                                         # helper thread hit an unexpected error or died and
                                         # was restarted); absent = none
     "control": {"port": 9816,    # optional: the runtime priority listener (wire.command): its
                 "seq": [812, 2], # UDP port on the VRRP source address(es), the last applied
                 "drops": 0,      # command's seq (null: none yet), datagrams dropped as not
                 "switch": true}} # authentic or malformed, and (optional, true only) whether
                                  # it can hold and switch a planned move's clients
                                  # (agent.arphold); null = no listener (no key mounted, or
                                  # not bound yet); absent = an agent without the channel

`parse_report` accepts the raw line or one carrying `docker service logs` prefixes (an RFC 3339
timestamp from `-t`, and/or `svc.1.taskid@node    | `) and returns None for anything else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

SCHEMA = 1
MARKER = '{"swarmvip_report":'
# The agent's default heartbeat period, seconds: a line at least this often (a heartbeat only
# when nothing else was written for this long), so about 3600/HEARTBEAT lines per node and hour.
# Readers never assume it: each line announces its own `interval` (2.0 when an old line lacks it).
HEARTBEAT = 10.0

Kind = Literal["state", "heartbeat", "fault"]
KIND_VALUES = ("state", "heartbeat", "fault")


@dataclass(frozen=True, slots=True)
class InstanceReport:
    """What one node observes about one VRRP instance."""

    group: str
    vrid: int
    priority: int
    vrrp_state: str
    vips: tuple[str, ...]
    vips_present: tuple[str, ...]
    holds_vip: bool
    checks: tuple[tuple[str, str], ...] = ()
    after_release: tuple[str, float] | None = None  # (releasing address, ts); optional key


@dataclass(frozen=True, slots=True)
class ControlReport:
    """The agent's runtime priority listener (optional key "control")."""

    port: int
    seq: tuple[int, int] | None = None  # the last applied command's (index, step)
    drops: int = 0  # datagrams dropped (not authentic, malformed) since the agent started
    switch: bool = False  # it can hold and switch a planned move's clients (agent.arphold)


@dataclass(frozen=True, slots=True)
class Report:
    """One report line, as written by an agent."""

    kind: Kind
    ts: float
    seq: int
    stack: str
    node: str
    node_id: str
    interface: str | None
    keepalived: str
    instances: tuple[InstanceReport, ...]
    reason: str | None = None
    interval: float = 2.0
    version: str = ""
    schema: int = SCHEMA
    faults: tuple[str, ...] = ()  # agent faults (helper threads); optional key "faults"
    spec: str = ""  # the task's service spec hash; optional key "spec" ("" = not told)
    control: ControlReport | None = None  # optional key "control"; None: null or absent


def _instance_doc(inst: InstanceReport) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "group": inst.group,
        "vrid": inst.vrid,
        "priority": inst.priority,
        "vrrp_state": inst.vrrp_state,
        "vips": list(inst.vips),
        "vips_present": list(inst.vips_present),
        "holds_vip": inst.holds_vip,
        "checks": dict(inst.checks),
    }
    if inst.after_release is not None:  # additive, optional
        address, ts = inst.after_release
        doc["after_release"] = {"from": address, "ts": round(ts, 3)}
    return doc


def to_line(report: Report) -> str:
    """The JSON line (no newline), compact, with the marker key first."""
    doc: dict[str, Any] = {
        "swarmvip_report": report.schema,
        "kind": report.kind,
        "ts": round(report.ts, 3),
        "seq": report.seq,
        "interval": report.interval,
        "version": report.version,
        "stack": report.stack,
        "node": report.node,
        "node_id": report.node_id,
        "interface": report.interface,
        "keepalived": report.keepalived,
        "instances": [_instance_doc(i) for i in report.instances],
        "reason": report.reason,
    }
    if report.faults:  # additive, optional: lines without faults are unchanged
        doc["faults"] = list(report.faults)
    if report.spec:
        doc["spec"] = report.spec
    doc["control"] = _control_doc(report.control)
    return json.dumps(doc, separators=(",", ":"))


def _control_doc(control: ControlReport | None) -> dict[str, Any] | None:
    if control is None:
        return None
    return {
        "port": control.port,
        "seq": None if control.seq is None else list(control.seq),
        "drops": control.drops,
    } | ({"switch": True} if control.switch else {})


def _control_from(doc: Any) -> ControlReport | None:
    if not isinstance(doc, dict):
        return None
    seq = doc.get("seq")
    return ControlReport(
        port=int(doc["port"]),
        seq=None if seq is None else (int(seq[0]), int(seq[1])),
        drops=int(doc.get("drops", 0)),
        switch=doc.get("switch") is True,
    )


def _instance_from(doc: dict[str, Any]) -> InstanceReport:
    return InstanceReport(
        group=str(doc["group"]),
        vrid=int(doc["vrid"]),
        priority=int(doc["priority"]),
        vrrp_state=str(doc["vrrp_state"]),
        vips=tuple(str(v) for v in doc.get("vips", ())),
        vips_present=tuple(str(v) for v in doc["vips_present"]),
        holds_vip=bool(doc["holds_vip"]),
        checks=tuple(sorted((str(k), str(v)) for k, v in doc.get("checks", {}).items())),
        after_release=_release_from(doc.get("after_release")),
    )


def _release_from(doc: Any) -> tuple[str, float] | None:
    if not isinstance(doc, dict):
        return None
    return str(doc["from"]), float(doc["ts"])


def _from_doc(doc: dict[str, Any]) -> Report | None:
    if doc.get("swarmvip_report") != SCHEMA or doc.get("kind") not in KIND_VALUES:
        return None
    return Report(
        kind=doc["kind"],
        ts=float(doc["ts"]),
        seq=int(doc["seq"]),
        stack=str(doc["stack"]),
        node=str(doc["node"]),
        node_id=str(doc["node_id"]),
        interface=None if doc.get("interface") is None else str(doc["interface"]),
        keepalived=str(doc["keepalived"]),
        instances=tuple(_instance_from(i) for i in doc["instances"]),
        reason=None if doc.get("reason") is None else str(doc["reason"]),
        interval=float(doc.get("interval", 2.0)),
        version=str(doc.get("version", "")),
        faults=tuple(str(f) for f in doc.get("faults") or ()),
        spec=str(doc.get("spec") or ""),
        control=_control_from(doc.get("control")),
    )


def parse_report(line: str) -> Report | None:
    """The report on this log line, or None (not a report, truncated, or another schema)."""
    start = line.find(MARKER)
    if start < 0:
        start = line.find('{"swarmvip_report": ')
    if start < 0:
        return None
    try:
        doc, _ = json.JSONDecoder().raw_decode(line, start)
        return _from_doc(doc) if isinstance(doc, dict) else None
    except (ValueError, KeyError, TypeError, IndexError):
        return None

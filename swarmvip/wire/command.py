"""The runtime priority channel: signed UDP datagrams from a manager-side relay to the agents.

A planned move (drain, undrain, a changed ranking) changes who should hold a VIP. Restarting
keepalived tasks for that takes seconds; keepalived can change a running instance's priority at
once through a `track_file` with weight 1 (the agent writes the delta from the configured
priority). This module is the wire format of the command that tells an agent which effective
priority each of its groups should have. Pure and stdlib-only (the agent image has no extras).

Security (the listener is on every node):
* bound to the node's own VRRP source address(es), never 0.0.0.0;
* every datagram carries an HMAC-SHA256 over its canonical body, keyed with the swarm secret
  KEY_SECRET (random, created by `swarmvip deploy`, mounted into every keepalived task and the
  relay, never on the command line); anything that does not verify is dropped silently;
* replay: each command carries `seq` = (index, step). `index` is a Swarm raft index (the highest
  Version.Index of the swarm's nodes when the command was made, so it grows with every label
  write); an agent applies a command only if its seq is greater than the last one it applied,
  persisted on the node, and answers an identical repeat (a retry) without applying it again.
  A replayed old command is therefore refused, also after a restart of the agent;
* a command names its stack, node id and the spec hash of the task it is for (what the agent
  reports, $SWARMVIP_SPEC); an agent ignores commands for anything else, so a command captured
  before a redeploy never applies after it.

Persistence: the agent keeps the last applied command (seq, spec, priorities) on the node. A
task restarted with the same spec (node reboot, agent crash) boots with those priorities; a task
of a new spec boots with its config's priorities (written by the deploy that made the spec, so
as new as the labels it read) and keeps only the seq floor.

Datagram: b"SVC1" + JSON {"body": {...}, "mac": hex}. Replies use the same framing and key.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAGIC = b"SVC1"
PORT = 9816  # the agents' default UDP port (x-swarmvip does not change it; see README)
PORT_ENV = "SWARMVIP_CONTROL_PORT"  # the agent's listener port, when not PORT
PORT_SPAN = 32  # an agent whose port is taken tries the next ones: PORT .. PORT+31
MAX_DATAGRAM = 8192
KEY_SECRET = "swarmvip_control_key"  # the swarm secret's name, and its file in /run/secrets
KEY_BYTES = 32
MIN_PRIORITY, MAX_PRIORITY = 1, 254


class CommandError(ValueError):
    """A datagram that is not a valid, authentic command or reply."""


@dataclass(frozen=True, slots=True, order=True)
class Seq:
    """Replay guard: a raft index, then the step within one operation (lexicographic)."""

    index: int
    step: int = 0

    def to_json(self) -> list[int]:
        return [self.index, self.step]

    @classmethod
    def from_json(cls, doc: Any) -> Seq:
        if (
            not isinstance(doc, list)
            or len(doc) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in doc)
        ):
            raise CommandError(f"seq must be [index, step], got {doc!r}")
        return cls(doc[0], doc[1])


@dataclass(frozen=True, slots=True)
class Command:
    """Set the effective priority of some of a node's groups (absent groups are unchanged).

    release: group -> the VRRP source address of the node lifted to take that group over. An
    agent whose instance is MASTER then sends it one priority-0 advert (agent.release), so the
    lifted backup takes over after Skew_Time instead of 3 x advert_int (RFC 5798 6.4.2).

    hold: group -> the VRRP source address of the node that holds it now. The lifted node's
    agent holds back its announcements of the group's VIPs until that node has switched the
    clients to it (agent.arphold). switch: the releasing agent switches the clients itself, at
    its quiet instant (agent.arphold). Both are sent only to agents that report they can."""

    stack: str
    node_id: str
    spec: str  # the task's spec hash ($SWARMVIP_SPEC) the command was computed against
    seq: Seq
    priorities: Mapping[str, int] = field(default_factory=dict)
    release: Mapping[str, str] = field(default_factory=dict)
    hold: Mapping[str, str] = field(default_factory=dict)
    switch: bool = False

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "set",
            "stack": self.stack,
            "node_id": self.node_id,
            "spec": self.spec,
            "seq": self.seq.to_json(),
            "priorities": dict(sorted(self.priorities.items())),
        }
        if self.release:  # absent when empty: the body older agents verify stays the same
            body["release"] = dict(sorted(self.release.items()))
        if self.hold:
            body["hold"] = dict(sorted(self.hold.items()))
        if self.switch:
            body["switch"] = True
        return body


@dataclass(frozen=True, slots=True)
class Reply:
    """An agent's answer: what it now runs. `applied` is False for a refused command (a stale
    seq, an unknown group, a priority out of range) with the reason in `error`."""

    stack: str
    node_id: str
    seq: Seq  # the command's seq, echoed
    applied: bool
    priorities: Mapping[str, int]  # effective priority per group, after the command
    states: Mapping[str, str]  # VRRP state per group (MASTER/BACKUP/FAULT/...)
    error: str | None = None

    def body(self) -> dict[str, Any]:
        return {
            "type": "reply",
            "stack": self.stack,
            "node_id": self.node_id,
            "seq": self.seq.to_json(),
            "applied": self.applied,
            "priorities": dict(sorted(self.priorities.items())),
            "states": dict(sorted(self.states.items())),
            "error": self.error,
        }


def _canonical(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _mac(key: bytes, body: Mapping[str, Any]) -> str:
    return hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()


def encode(key: bytes, message: Command | Reply) -> bytes:
    body = message.body()
    data = MAGIC + json.dumps({"body": body, "mac": _mac(key, body)}).encode()
    if len(data) > MAX_DATAGRAM:
        raise CommandError(f"datagram of {len(data)} bytes is larger than {MAX_DATAGRAM}")
    return data


def _verified_body(key: bytes, data: bytes) -> dict[str, Any]:
    if not data.startswith(MAGIC) or len(data) > MAX_DATAGRAM:
        raise CommandError("not a swarmvip datagram")
    try:
        doc = json.loads(data[len(MAGIC) :])
    except ValueError as exc:
        raise CommandError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("body"), dict):
        raise CommandError("no body")
    mac = doc.get("mac")
    if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(key, doc["body"])):
        raise CommandError("bad MAC")
    body: dict[str, Any] = doc["body"]
    return body


def _str(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise CommandError(f"{name} must be a non-empty string")
    return value


def parse_priorities(doc: Any, name: str = "priorities") -> dict[str, int]:
    if not isinstance(doc, dict):
        raise CommandError(f"{name} must be a mapping")
    out: dict[str, int] = {}
    for group, value in doc.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise CommandError(f"{name}[{group}] must be an integer")
        if not MIN_PRIORITY <= value <= MAX_PRIORITY:
            raise CommandError(f"{name}[{group}]={value} is outside {MIN_PRIORITY}..{MAX_PRIORITY}")
        out[str(group)] = value
    return out


def parse_release(doc: Any, name: str = "release") -> dict[str, str]:
    """group -> an IP address (the lifted node's VRRP source address)."""
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise CommandError(f"{name} must be a mapping")
    out: dict[str, str] = {}
    for group, value in doc.items():
        try:
            out[str(group)] = str(ipaddress.ip_address(value))
        except (TypeError, ValueError):
            raise CommandError(f"{name}[{group}]={value!r} is not an IP address") from None
    return out


def decode_command(key: bytes, data: bytes) -> Command:
    """An authentic, well-formed command, or CommandError."""
    body = _verified_body(key, data)
    if body.get("type") != "set":
        raise CommandError("not a command")
    return Command(
        stack=_str(body, "stack"),
        node_id=_str(body, "node_id"),
        spec=_str(body, "spec"),
        seq=Seq.from_json(body.get("seq")),
        priorities=parse_priorities(body.get("priorities")),
        release=parse_release(body.get("release")),
        hold=parse_release(body.get("hold"), "hold"),
        switch=body.get("switch") is True,
    )


def decode_reply(key: bytes, data: bytes) -> Reply:
    """An authentic, well-formed reply, or CommandError."""
    body = _verified_body(key, data)
    if body.get("type") != "reply":
        raise CommandError("not a reply")
    states = body.get("states")
    if not isinstance(states, dict) or not all(isinstance(v, str) for v in states.values()):
        raise CommandError("states must map groups to strings")
    error = body.get("error")
    return Reply(
        stack=_str(body, "stack"),
        node_id=_str(body, "node_id"),
        seq=Seq.from_json(body.get("seq")),
        applied=bool(body.get("applied")),
        priorities=parse_priorities(body.get("priorities")),
        states={str(k): v for k, v in states.items()},
        error=error if isinstance(error, str) else None,
    )


def read_key(path: str) -> bytes:
    """The channel key from its secret file (raw bytes, surrounding whitespace stripped)."""
    with open(path, "rb") as handle:
        key = handle.read().strip()
    if len(key) < 16:
        raise CommandError(f"{path}: the control key is shorter than 16 bytes")
    return key

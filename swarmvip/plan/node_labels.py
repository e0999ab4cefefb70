"""Node labels in the `swarmvip.` namespace: parse and validate them into NodeSettings. Pure.

A label value is operator input that would otherwise reach keepalived.conf, so every value is
checked against a strict pattern or type; nothing else is ever rendered.
"""

from __future__ import annotations

import difflib
import ipaddress
import re

from swarmvip.errors import Problem
from swarmvip.model import Node, NodeSettings
from swarmvip.wire.keys import (
    DRAIN_SWARM,
    LABEL_PREFIX,
    NODE_DRAIN,
    NODE_INTERFACE,
    NODE_LABELS,
    NODE_PRIORITY,
    NODE_UNICAST,
    NODE_UNICAST6,
)

IFACE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,14}$")
# The characters an IP address is written with. ipaddress also accepts an IPv6 scope id
# (`fd00::1%<any text but / and %>`, newlines and braces included), which must never reach
# keepalived.conf; so do no spaces, signs or other spellings.
ADDRESS_TEXT = re.compile(r"^[0-9A-Fa-f.:]{2,45}$")
# RFC 1123-ish host names (underscore tolerated, as Docker hosts sometimes have one). The
# hostname is rendered as keepalived's router_id and printed in plans, so nothing else passes.
HOSTNAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?$")
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off", "")


def valid_hostname(hostname: str) -> bool:
    return HOSTNAME.fullmatch(hostname) is not None


def shown_hostname(node: Node) -> str:
    """The hostname for messages: as is when valid, else quoted (no raw control characters)."""
    return node.hostname if valid_hostname(node.hostname) else repr(node.hostname)


def _where(node: Node) -> str:
    return f"node {shown_hostname(node)} ({node.id[:12]})"


def _problem(node: Node, key: str, message: str, fix: str) -> Problem:
    return Problem(file=_where(node), key=f"label {key}", message=message, fix=fix)


def parse_priority(value: str) -> int | None:
    """1..254 as plain decimal digits, else None."""
    if not re.fullmatch(r"[0-9]{1,3}", value):
        return None
    number = int(value)
    return number if 1 <= number <= 254 else None


def _priority_problem(node: Node, key: str, value: str) -> Problem | None:
    if parse_priority(value) is None:
        return _problem(
            node,
            key,
            f"{value!r} is not a priority",
            f"docker node update --label-add {key}=N {shown_hostname(node)} with N from 1 to 254",
        )
    return None


def _address(
    node: Node, key: str, value: str, version: int | None
) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address | None, Problem | None]:
    try:
        addr = ipaddress.ip_address(value) if ADDRESS_TEXT.fullmatch(value) else None
    except ValueError:
        addr = None
    if addr is None or (version is not None and addr.version != version):
        kind = {None: "an IP address", 4: "an IPv4 address", 6: "an IPv6 address"}[version]
        return None, _problem(
            node,
            key,
            f"{value!r} is not {kind} (no %scope, no spaces)",
            f"docker node update --label-add {key}=ADDRESS {shown_hostname(node)}",
        )
    return addr, None


def _drain(node: Node, value: str) -> tuple[bool, Problem | None]:
    lowered = value.lower()
    if lowered in _TRUE or lowered in _FALSE or lowered == DRAIN_SWARM:
        return lowered in _TRUE or lowered == DRAIN_SWARM, None
    return False, _problem(
        node, NODE_DRAIN, f"{value!r} is not true, false or swarm", "use true or false"
    )


def _unknown(node: Node, key: str) -> Problem | None:
    if key in NODE_LABELS or key.startswith(NODE_PRIORITY + "."):
        return None
    close = difflib.get_close_matches(key, NODE_LABELS, n=1)
    fix = f"did you mean {close[0]}?" if close else f"known labels: {', '.join(NODE_LABELS)}"
    return _problem(node, key, "unknown swarmvip label", fix)


def node_settings(node: Node, group: str | None = None) -> tuple[NodeSettings, list[Problem]]:
    """The node's swarmvip settings and every problem with its labels.

    `swarmvip.priority.<group>` wins over `swarmvip.priority` for that group.
    """
    labels = {k: v for k, v in node.labels if k.startswith(LABEL_PREFIX)}
    problems = [p for k in labels if (p := _unknown(node, k)) is not None]
    priority_key = (
        f"{NODE_PRIORITY}.{group}" if f"{NODE_PRIORITY}.{group}" in labels else NODE_PRIORITY
    )
    for key in (k for k in labels if k == NODE_PRIORITY or k.startswith(NODE_PRIORITY + ".")):
        if (p := _priority_problem(node, key, labels[key])) is not None:
            problems.append(p)
    interface = labels.get(NODE_INTERFACE)
    if interface is not None and not IFACE_PATTERN.fullmatch(interface):
        problems.append(
            _problem(
                node,
                NODE_INTERFACE,
                f"{interface!r} is not an interface name",
                "use the name shown by `ip link` (letters, digits, . _ -; at most 15)",
            )
        )
        interface = None
    unicast, p4 = (
        _address(node, NODE_UNICAST, labels[NODE_UNICAST], None)
        if NODE_UNICAST in labels
        else (None, None)
    )
    unicast6, p6 = (
        _address(node, NODE_UNICAST6, labels[NODE_UNICAST6], 6)
        if NODE_UNICAST6 in labels
        else (None, None)
    )
    drain, pd = _drain(node, labels.get(NODE_DRAIN, ""))
    problems += [p for p in (p4, p6, pd) if p is not None]
    priority_text = labels.get(priority_key)
    settings = NodeSettings(
        priority=parse_priority(priority_text) if priority_text is not None else None,
        interface=interface,
        unicast=unicast,
        unicast6=unicast6,
        drain=drain,
    )
    return settings, problems

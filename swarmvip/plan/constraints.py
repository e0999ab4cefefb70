"""Swarm placement constraints: parse `node.labels.edge == true` and match it against a node.

Same syntax and meaning as Swarm's (swarmkit's manager/constraint): `==` / `!=`; keys node.id,
node.hostname, node.role, node.ip (an address or a CIDR), node.platform.os, node.platform.arch,
node.labels.<k>, engine.labels.<k>. Keys are case-insensitive except the label name after the
prefix; values compare case-insensitively (`node.role == Manager` is `manager`); a value the node
lacks is the empty string, so `==` never matches it and `!=` always does. Pure.
"""

from __future__ import annotations

import ipaddress
import re

from swarmvip.model import Constraint, Node

_CONSTRAINT = re.compile(r"^\s*(?P<key>[A-Za-z0-9_.\-]+)\s*(?P<op>==|!=)\s*(?P<value>\S.*?)\s*$")
# swarmkit's valuePattern: no operators (<, >, ~, =, !) in a value
_VALUE = re.compile(r"^[A-Za-z0-9:\-_\s.*()?+\[\]\\^$|/]+$")
_FIXED_KEYS = (
    "node.id",
    "node.hostname",
    "node.role",
    "node.ip",
    "node.platform.os",
    "node.platform.arch",
)
_PREFIX_KEYS = ("node.labels.", "engine.labels.")
_ROLES = ("manager", "worker")


class ConstraintSyntaxError(ValueError):
    """A constraint that Swarm would refuse too; the message says how to write it."""


def _canonical_key(key: str) -> str | None:
    """The key with its fixed part in lower case (Swarm compares keys case-insensitively; the
    label name after node.labels. / engine.labels. keeps its case); None when unknown."""
    lower = key.lower()
    if lower in _FIXED_KEYS:
        return lower
    for prefix in _PREFIX_KEYS:
        if lower.startswith(prefix) and len(key) > len(prefix):
            return prefix + key[len(prefix) :]
    return None


def _ip_value(value: str) -> None:
    try:
        if "/" in value:
            ipaddress.ip_network(value, strict=False)
        else:
            ipaddress.ip_address(value)
    except ValueError as exc:
        raise ConstraintSyntaxError(
            f"node.ip needs an address or a CIDR (e.g. 10.0.0.0/24), not {value!r}"
            " (Swarm would place the task on no node)"
        ) from exc


def parse_constraint(text: str) -> Constraint:
    match = _CONSTRAINT.match(text)
    if not match:
        raise ConstraintSyntaxError(
            f"{text!r} is not a constraint; write KEY == VALUE or KEY != VALUE,"
            " e.g. 'node.labels.edge == true'"
        )
    op, value = match["op"], match["value"]
    key = _canonical_key(match["key"])
    if key is None:
        raise ConstraintSyntaxError(
            f"unknown constraint key {match['key']!r}; use one of {', '.join(_FIXED_KEYS)},"
            " node.labels.<label> or engine.labels.<label>"
        )
    if not _VALUE.fullmatch(value):
        raise ConstraintSyntaxError(
            f"{value!r} is not a constraint value Swarm accepts (letters, digits, spaces and"
            " : - _ . * ( ) ? + [ ] \\ ^ $ | / only)"
        )
    if key == "node.role" and value.lower() not in _ROLES:
        raise ConstraintSyntaxError(f"node.role must be manager or worker, not {value!r}")
    if key == "node.ip":
        _ip_value(value)
    return Constraint(key=key, operator="==" if op == "==" else "!=", value=value)


def _node_value(node: Node, key: str) -> str:
    if key.startswith("node.labels."):
        return dict(node.labels).get(key.removeprefix("node.labels."), "")
    if key.startswith("engine.labels."):
        return dict(node.engine_labels).get(key.removeprefix("engine.labels."), "")
    return {
        "node.id": node.id,
        "node.hostname": node.hostname,
        "node.role": str(node.role),
        "node.platform.os": node.os,
        "node.platform.arch": node.arch,
    }.get(key, "")


def _ip_matches(node: Node, value: str) -> bool:
    try:
        address = ipaddress.ip_address(node.addr)
    except ValueError:  # the node's address is unknown: inside no network, equal to no address
        return False
    if "/" in value:
        return address in ipaddress.ip_network(value, strict=False)
    return address == ipaddress.ip_address(value)


def matches(node: Node, constraint: Constraint) -> bool:
    """Swarm semantics: values compare case-insensitively; a missing label != anything."""
    key = _canonical_key(constraint.key) or constraint.key
    if key == "node.ip":
        equal = _ip_matches(node, constraint.value)
    else:
        actual = _node_value(node, key)
        equal = actual != "" and actual.lower() == constraint.value.lower()
    return equal if constraint.operator == "==" else not equal


def matches_all(node: Node, constraints: tuple[Constraint, ...]) -> bool:
    return all(matches(node, c) for c in constraints)

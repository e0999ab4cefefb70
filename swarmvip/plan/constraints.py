"""Swarm placement constraints: parse `node.labels.edge == true` and match it against a node.

Same syntax and meaning as Swarm's: `==` / `!=`, keys node.id, node.hostname, node.role,
node.platform.os/arch (when known), node.labels.<k>, engine.labels.<k>. Pure.
"""

from __future__ import annotations

import re

from swarmvip.model import Constraint, Node

_CONSTRAINT = re.compile(r"^\s*(?P<key>[A-Za-z0-9_.\-]+)\s*(?P<op>==|!=)\s*(?P<value>\S.*?)\s*$")
_FIXED_KEYS = ("node.id", "node.hostname", "node.role", "node.platform.os", "node.platform.arch")
_PREFIX_KEYS = ("node.labels.", "engine.labels.")


class ConstraintSyntaxError(ValueError):
    """A constraint that Swarm would refuse too; the message says how to write it."""


def parse_constraint(text: str) -> Constraint:
    match = _CONSTRAINT.match(text)
    if not match:
        raise ConstraintSyntaxError(
            f"{text!r} is not a constraint; write KEY == VALUE or KEY != VALUE,"
            " e.g. 'node.labels.edge == true'"
        )
    key, op, value = match["key"], match["op"], match["value"]
    if key not in _FIXED_KEYS and not any(
        key.startswith(p) and len(key) > len(p) for p in _PREFIX_KEYS
    ):
        raise ConstraintSyntaxError(
            f"unknown constraint key {key!r}; use one of {', '.join(_FIXED_KEYS)},"
            " node.labels.<label> or engine.labels.<label>"
        )
    if key == "node.role" and value not in ("manager", "worker"):
        raise ConstraintSyntaxError(f"node.role must be manager or worker, not {value!r}")
    return Constraint(key=key, operator="==" if op == "==" else "!=", value=value)


def _node_value(node: Node, key: str) -> str | None:
    if key.startswith("node.labels."):
        return dict(node.labels).get(key.removeprefix("node.labels."))
    if key.startswith("engine.labels."):
        return dict(node.engine_labels).get(key.removeprefix("engine.labels."))
    return {
        "node.id": node.id,
        "node.hostname": node.hostname,
        "node.role": str(node.role),
    }.get(key)


def matches(node: Node, constraint: Constraint) -> bool:
    """Swarm semantics: values compare case-insensitively; a missing label != anything."""
    actual = _node_value(node, constraint.key)
    equal = actual is not None and actual.lower() == constraint.value.lower()
    return equal if constraint.operator == "==" else not equal


def matches_all(node: Node, constraints: tuple[Constraint, ...]) -> bool:
    return all(matches(node, c) for c in constraints)

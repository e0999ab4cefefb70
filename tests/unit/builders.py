"""Builders for pure unit tests: nodes and stack specs without any engine."""

from __future__ import annotations

import textwrap

from swarmvip.model import Node, Role, StackSpec
from swarmvip.spec.stackfile import parse_stack


def node(hostname: str, addr: str, role: str = "worker", **labels: str) -> Node:
    return Node(
        id=f"id-{hostname}",
        hostname=hostname,
        role=Role(role),
        availability="active",
        state="ready",
        addr=addr,
        labels=tuple(sorted((k.replace("__", "."), v) for k, v in labels.items())),
    )


def spec(vips: str, top: str = "") -> StackSpec:
    text = "x-swarmvip:\n" + top + "  vips:\n" + textwrap.indent(textwrap.dedent(vips), "    ")
    return parse_stack(text, "stack.yml")


THREE = (
    node("node1", "10.213.0.11", "manager"),
    node("node2", "10.213.0.12"),
    node("node3", "10.213.0.13"),
)

"""A stack with every keepalived knob of a VIP group, planned for three nodes (shared by tests).

`planned` attaches each group's options to its instances the way plan/build.py is to carry them
(`options=group.options` in `_instances`); once build.py does so this is a no-op.
"""

from __future__ import annotations

import dataclasses

from swarmvip.model import Plan, StackSpec
from swarmvip.plan.build import build_plan
from swarmvip.spec.stackfile import parse_stack

from .builders import node

KNOBS_STACK = """\
x-swarmvip:
  vips:
    web:
      addresses: [10.213.0.100/24]
      garp: {delay: 2s, repeat: 3, refresh: 1m, refresh_repeat: 2}
      track_interfaces: [eth1, {name: eth2, weight: -20}]
      notify: {master: [/usr/local/bin/on-master], args: classic, timeout: 30s}
    lan:
      addresses: [10.1.0.100/24]
      interface: 10.1.0.0/24
      preemption: sticky
      track_interfaces: [eth1]
    dmz-b:
      addresses: ["fd00:1::100/64"]
      interface: eth2
      garp: {delay: 0}
"""
NODES = tuple(
    node(
        f"node{i}",
        f"10.213.0.{10 + i}",
        "manager" if i == 1 else "worker",
        swarmvip__unicast6=f"fd00::{10 + i}",
    )
    for i in (1, 2, 3)
)


def knobs_spec(text: str = KNOBS_STACK) -> StackSpec:
    return parse_stack(text, "knobs.yml")


def planned(spec: StackSpec, stack: str = "knobs") -> Plan:
    plan = build_plan(spec, stack, NODES)
    options = {g.name: g.options for g in spec.groups}
    return dataclasses.replace(
        plan,
        nodes=tuple(
            dataclasses.replace(
                n,
                instances=tuple(
                    dataclasses.replace(i, options=options[i.group]) for i in n.instances
                ),
            )
            for n in plan.nodes
        ),
    )

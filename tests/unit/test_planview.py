"""`swarmvip plan`: each group's expected holder and order, in the JSON and the table."""

from __future__ import annotations

import dataclasses

from swarmvip.model import Plan
from swarmvip.plan.build import build_plan
from swarmvip.plan.diff import Action
from swarmvip.present.planview import plan_document, plan_table

from .builders import THREE, node, spec

THREE_VIPS = "".join(f"{g}:\n  addresses: [10.213.0.{100 + i}/24]\n" for i, g in enumerate("abc"))


class Prepared:
    def __init__(
        self, plan: Plan, actions: tuple[Action, ...] = (), ranked: Plan | None = None
    ) -> None:
        self.plan, self.actions, self.ranked = plan, actions, ranked


def test_each_group_shows_its_order_and_expected_holder() -> None:
    plan = build_plan(spec(THREE_VIPS), "s", THREE)
    groups = plan_document(Prepared(plan))["groups"]
    assert [g["group"] for g in groups] == ["a", "b", "c"]
    for g in groups:
        planned = {
            n.node_id: i.priority for n in plan.nodes for i in n.instances if i.group == g["group"]
        }
        assert [m["node_id"] for m in g["order"]] == sorted(planned, key=lambda n: -planned[n])
        assert [m["priority"] for m in g["order"]] == sorted(planned.values(), reverse=True)
        assert g["expected_holder_id"] == g["order"][0]["node_id"]
        assert g["expected_holder"] == g["order"][0]["hostname"]
        assert {g["vrid"]} == {
            i.vrid for n in plan.nodes for i in n.instances if i.group == g["group"]
        }
    assert sorted(g["expected_holder"] for g in groups) == ["node1", "node2", "node3"]  # spread


def test_a_drained_node_is_never_the_expected_holder() -> None:
    for drained in ("node1", "node2", "node3"):
        nodes = [
            node(n.hostname, n.addr, str(n.role), swarmvip__drain="true")
            if n.hostname == drained
            else n
            for n in THREE
        ]
        groups = plan_document(Prepared(build_plan(spec(THREE_VIPS), "s", nodes)))["groups"]
        assert all(g["expected_holder"] != drained for g in groups)
        assert all(g["order"][-1]["hostname"] == drained for g in groups)


def test_a_priority_label_makes_its_node_the_expected_holder() -> None:
    nodes = [node("node1", "10.213.0.11", swarmvip__priority__b="254"), *THREE[1:]]
    groups = plan_document(Prepared(build_plan(spec(THREE_VIPS), "s", nodes)))["groups"]
    assert next(g for g in groups if g["group"] == "b")["order"][0] == {
        "hostname": "node1",
        "node_id": "id-node1",
        "priority": 254,
    }
    assert sorted(g["expected_holder"] for g in groups) == ["node1", "node2", "node3"]


def test_the_table_lists_each_group_with_its_holder_and_order() -> None:
    doc = plan_document(Prepared(build_plan(spec(THREE_VIPS), "s", THREE)))
    lines = plan_table(doc).splitlines()
    head = lines.index(next(line for line in lines if line.startswith("GROUP")))
    assert "EXPECTED HOLDER" in lines[head] and "ORDER (PRIORITY)" in lines[head]
    for g, line in zip(doc["groups"], lines[head + 1 : head + 4], strict=True):
        fields = line.split()
        assert fields[:3] == [g["group"], str(g["vrid"]), g["expected_holder"]]
        assert " ".join(fields[3:]) == ", ".join(
            f"{m['hostname']} {m['priority']}" for m in g["order"]
        )
    doc["groups"][0]["expected_holder"] = "evil\x1b[2J"
    assert "\x1b" not in plan_table(doc) and "evil\\x1b[2J" in plan_table(doc)


def test_plan_shows_the_keepalived_knobs_of_each_group() -> None:
    from .knobs_plan import NODES, knobs_spec

    plan = build_plan(knobs_spec(), "knobs", NODES)
    doc = plan_document(Prepared(plan))
    options = [i["options"] for n in doc["nodes"] for i in n["instances"]]
    assert any(o["garp"] for o in options) and any(o["track_interfaces"] for o in options)
    assert any(o["interface"] for o in options)
    assert " knobs: garp " in plan_table(doc)
    plain = build_plan(spec(THREE_VIPS), "web", THREE)
    assert " knobs: " not in plan_table(plan_document(Prepared(plain)))


def test_groups_rank_by_the_labels_not_by_a_kept_nodes_configured_priority() -> None:
    """A node the plan keeps as it runs shows its configured priority (here 251, left by an
    earlier lift and lowered at runtime since): the groups' order and expected holder still
    follow the labels (fault campaign: `plan` named node2 while node4, the top, held)."""
    ranked = build_plan(spec("web:\n  addresses: [10.213.0.100/24]\n"), "s", THREE)
    order = sorted(ranked.nodes, key=lambda n: -n.instances[0].priority)
    second = order[1]
    boosted = dataclasses.replace(
        second, instances=(dataclasses.replace(second.instances[0], priority=251),)
    )
    kept = dataclasses.replace(
        ranked, nodes=tuple(boosted if n is second else n for n in ranked.nodes)
    )
    doc = plan_document(Prepared(kept, ranked=ranked))
    assert doc["groups"][0]["expected_holder_id"] == order[0].node_id
    written = {n["node_id"]: n["instances"][0]["priority"] for n in doc["nodes"]}
    assert written[second.node_id] == 251  # the config to write is the kept one

"""The planner: eligibility, tie-free priorities, peers, VRIDs, label validation."""

from __future__ import annotations

import pytest

from swarmvip.errors import ConfigError
from swarmvip.plan.build import build_plan
from swarmvip.plan.priorities import PriorityConflict, assign_priorities
from swarmvip.plan.vrids import VridConflict, allocate_vrids

from .builders import THREE, node, spec
from .test_priorities import rank

WEB = "web:\n  addresses: [10.213.0.100/24]\n"


def test_every_node_gets_a_distinct_priority_and_the_others_as_peers() -> None:
    """The nodes get 250, 240, 230 in the group's rendezvous order; for s/web and THREE that is
    node1, node2, node3, which the drain scenarios below rely on."""
    plan = build_plan(spec(WEB), "s", THREE)
    prios = {n.node_id: n.instances[0].priority for n in plan.nodes}
    assert rank("s", "web", [n.id for n in THREE]) == ["id-node1", "id-node2", "id-node3"]
    assert prios == {"id-node1": 250, "id-node2": 240, "id-node3": 230}
    node2 = next(n for n in plan.nodes if n.hostname == "node2")
    assert node2.instances[0].peers == ("10.213.0.11", "10.213.0.13")
    assert node2.instances[0].unicast_src == "10.213.0.12"


def test_priority_label_wins_and_auto_values_skip_it() -> None:
    nodes = (
        node("a", "10.0.0.1", swarmvip__priority="250"),
        node("b", "10.0.0.2"),
        node("c", "10.0.0.3"),
    )
    plan = build_plan(spec("web:\n  addresses: [10.0.0.100/24]\n"), "s", nodes)
    first, second = rank("s", "web", ["id-b", "id-c"])
    assert {n.node_id: n.instances[0].priority for n in plan.nodes} == {
        "id-a": 250,
        first: 249,
        second: 239,
    }


def test_group_specific_priority_label_wins_over_the_general_one() -> None:
    nodes = (
        node("a", "10.0.0.1", swarmvip__priority="10", **{"swarmvip__priority__web": "99"}),
        node("b", "10.0.0.2"),
    )
    plan = build_plan(spec("web:\n  addresses: [10.0.0.100/24]\n"), "s", nodes)
    assert plan.nodes[0].instances[0].priority == 99


def test_equal_priority_labels_are_an_error_naming_both_nodes() -> None:
    nodes = (
        node("a", "10.0.0.1", swarmvip__priority="100"),
        node("b", "10.0.0.2", swarmvip__priority="100"),
    )
    with pytest.raises(ConfigError, match="nodes a and b both have priority 100"):
        build_plan(spec("web:\n  addresses: [10.0.0.100/24]\n"), "s", nodes)


def test_priorities_stay_unique_for_large_groups() -> None:
    nodes = [f"id{i}" for i in range(200)]
    prios = assign_priorities(nodes, {})
    assert len(set(prios.values())) == 200 and all(1 <= p <= 254 for p in prios.values())
    with pytest.raises(PriorityConflict):
        assign_priorities([f"id{i}" for i in range(255)], {})


def test_constraints_select_nodes() -> None:
    nodes = (
        node("a", "10.0.0.1", edge="true"),
        node("b", "10.0.0.2", edge="TRUE"),
        node("c", "10.0.0.3"),
    )
    vip = (
        "web:\n  addresses: [10.0.0.100/24]\n"
        "  placement:\n    constraints: [node.labels.edge == true]\n"
    )
    assert [n.hostname for n in build_plan(spec(vip), "s", nodes).nodes] == ["a", "b"]
    vip_ne = vip.replace("==", "!=")
    assert [n.hostname for n in build_plan(spec(vip_ne), "s", nodes).nodes] == ["c"]


def test_role_and_hostname_constraints() -> None:
    vip = (
        "web:\n  addresses: [10.213.0.100/24]\n  placement:\n"
        "    constraints: [node.role == worker, node.hostname != node3]\n"
    )
    assert [n.hostname for n in build_plan(spec(vip), "s", THREE).nodes] == ["node2"]


def test_no_eligible_node_is_an_error_and_one_node_a_warning() -> None:
    vip = (
        "web:\n  addresses: [10.213.0.100/24]\n"
        "  placement:\n    constraints: [node.labels.x == y]\n"
    )
    with pytest.raises(ConfigError, match="no eligible node"):
        build_plan(spec(vip), "s", THREE)
    one = vip.replace("node.labels.x == y", "node.hostname == node2")
    plan = build_plan(spec(one), "s", THREE)
    assert len(plan.nodes) == 1 and "no HA" in plan.warnings[0]


def test_vip_equal_to_a_node_address_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"10\.213\.0\.12 is the address of node node2"):
        build_plan(spec("web:\n  addresses: [10.213.0.12/24]\n"), "s", THREE)


@pytest.mark.parametrize(
    "label,value",
    [
        ("swarmvip.priority", "100\nvrrp_script x {"),
        ("swarmvip.priority", "255"),
        ("swarmvip.priority", "0"),
        ("swarmvip.priority", "12a"),
        ("swarmvip.interface", "eth0 }\nvrrp_instance evil {"),
        ("swarmvip.interface", 'eth0"'),
        ("swarmvip.interface", "a-very-long-interface-name"),
        ("swarmvip.unicast", "10.0.0.1 }"),
        ("swarmvip.unicast", "include /etc/shadow"),
        ("swarmvip.unicast6", "10.0.0.1"),
        ("swarmvip.drain", "maybe"),
        ("swarmvip.prority", "100"),
    ],
)
def test_label_injection_and_bad_values_are_refused(label: str, value: str) -> None:
    nodes = (node("a", "10.0.0.1", **{label.replace(".", "__"): value}), node("b", "10.0.0.2"))
    with pytest.raises(ConfigError) as caught:
        build_plan(spec("web:\n  addresses: [10.0.0.100/24]\n"), "s", nodes)
    problem = caught.value.problems[0]
    assert problem.key == f"label {label}" and "node a" in problem.file
    assert "docker node update" in problem.fix or "did you mean" in problem.fix or problem.fix


def test_unicast_label_overrides_swarm_address() -> None:
    nodes = (node("a", "10.0.0.1", swarmvip__unicast="10.1.0.1"), node("b", "10.0.0.2"))
    plan = build_plan(spec("web:\n  addresses: [10.1.0.100/24]\n"), "s", nodes)
    assert plan.nodes[0].unicast_src == "10.1.0.1"
    assert plan.nodes[1].instances[0].peers == ("10.1.0.1",)


def test_ipv6_group_needs_ipv6_unicast_addresses() -> None:
    vip = "v6:\n  addresses: ['fd00::100/64']\n"
    with pytest.raises(ConfigError, match="no IPv6 address"):
        build_plan(spec(vip), "s", THREE)
    nodes = (
        node("a", "10.0.0.1", swarmvip__unicast6="fd00::1"),
        node("b", "10.0.0.2", swarmvip__unicast6="fd00::2"),
    )
    plan = build_plan(spec(vip), "s", nodes)
    assert plan.nodes[0].instances[0].peers == ("fd00::2",)


def test_drained_node_stays_a_peer_with_the_lowest_priority() -> None:
    nodes = (node("node1", "10.213.0.11", swarmvip__drain="true"), *THREE[1:])
    plan = build_plan(spec(WEB), "s", nodes)
    prios = {n.hostname: n.instances[0].priority for n in plan.nodes}
    assert prios == {"node1": 1, "node2": 240, "node3": 230}
    peers = {n.hostname: n.instances[0].peers for n in build_plan(spec(WEB), "s", THREE).nodes}
    assert {n.hostname: n.instances[0].peers for n in plan.nodes} == peers


def test_sticky_drain_lifts_nobody() -> None:
    nodes = (node("node1", "10.213.0.11", swarmvip__drain="true"), *THREE[1:])
    plan = build_plan(spec(WEB + "  preemption: sticky\n"), "s", nodes)
    prios = {n.hostname: n.instances[0].priority for n in plan.nodes}
    assert prios == {"node1": 1, "node2": 240, "node3": 230}


def test_draining_a_backup_changes_only_that_node() -> None:
    nodes = (*THREE[:2], node("node3", "10.213.0.13", swarmvip__drain="true"))
    prios = {n.hostname: n.instances[0].priority for n in build_plan(spec(WEB), "s", nodes).nodes}
    assert prios == {"node1": 250, "node2": 240, "node3": 1}


def test_vrids_are_deterministic_unique_and_avoid_other_stacks() -> None:
    groups = {"a": None, "b": None, "c": 7}
    first = allocate_vrids("s", groups, {})
    assert first == allocate_vrids("s", groups, {})
    assert len(set(first.values())) == 3 and first["c"] == 7
    other = allocate_vrids("s", groups, {first["a"]: "t"})
    assert other["a"] != first["a"] and other["a"] not in (other["b"], 7)
    with pytest.raises(VridConflict, match="already used by stack t"):
        allocate_vrids("s", groups, {7: "t"})


def test_deployed_vrids_are_kept() -> None:
    assert allocate_vrids("s", {"a": None}, {}, {"a": 42}) == {"a": 42}


def test_vrid_used_by_another_stack_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="already used by stack other"):
        build_plan(spec(WEB + "  vrid: 9\n"), "s", THREE, used_vrids={9: "other"})


def test_stored_spec_document_parses_back_to_the_same_spec(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from swarmvip.spec.specdoc import spec_document
    from swarmvip.spec.stackfile import dump_document, parse_stack, read_stack

    root = __import__("pathlib").Path(__file__).resolve().parents[2] / "stacks"
    for path in sorted(p for p in root.glob("*.yml") if "x-swarmvip:" in p.read_text()):
        original = read_stack(str(path))
        objects = {s.name: f"obj-{s.name}" for s in original.secrets}
        again = parse_stack(dump_document(spec_document(original, objects)), "stored")
        assert again.groups == original.groups, path
        assert again.image == original.image
        assert [
            dataclasses.replace(s, data=None, object=objects[s.name]) for s in original.secrets
        ] == list(again.secrets)


def _subnet_warnings(vip: str, nodes: tuple = THREE) -> list[str]:  # type: ignore[type-arg]
    plan = build_plan(spec(f"web:\n  addresses: [{vip}]\n"), "s", nodes)
    return [w for w in plan.warnings if "outside every member's subnet" in w]


@pytest.mark.parametrize(
    "vip",
    [
        "10.213.0.100/24",  # the members' own /24
        "10.213.7.100/16",  # the VIP's own network holds the members' addresses
        "10.213.0.100/32",  # a host route: the same /24 as a member is near enough
    ],
)
def test_a_vip_near_a_member_address_gives_no_subnet_warning(vip: str) -> None:
    assert _subnet_warnings(vip) == []


def test_a_vip_outside_every_members_subnet_is_a_warning_saying_it_is_a_heuristic() -> None:
    [warning] = _subnet_warnings("192.0.2.100/24")  # a copied example's documentation address
    assert warning.startswith("x-swarmvip.vips.web.addresses: 192.0.2.100/24 looks outside")
    assert "node1 10.213.0.11, node2 10.213.0.12, node3 10.213.0.13" in warning
    assert "192.0.2.0/24" in warning and "heuristic" in warning
    assert _subnet_warnings("10.213.1.100/24")  # the next /24 over: its own route, wrong NIC


def test_one_member_near_the_vip_is_enough_and_ipv6_uses_a_64() -> None:
    mixed = (node("node1", "10.213.0.11"), node("node2", "192.168.7.12"))
    assert _subnet_warnings("192.168.7.100/24", mixed) == []
    six = (node("node1", "fd00:0:0:1::11"), node("node2", "fd00:0:0:1::12"))
    assert _subnet_warnings("fd00:0:0:1::100/128", six) == []
    [warning] = _subnet_warnings("fd00:0:0:2::100/64", six)
    assert "same /64" in warning

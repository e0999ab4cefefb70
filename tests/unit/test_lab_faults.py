"""The fault campaign's pure parts: the lab's fault scripts (swarmvip_lab.faults) and the
holder-count measures (bench.failover_metrics) it computes from `ip monitor` spans."""

from __future__ import annotations

import subprocess

import pytest
from swarmvip_lab import faults

from bench.failover_metrics import (
    holder_count_edges,
    no_holder_time,
    settled_at,
    two_holder_spans,
    two_holder_time,
)


def _syntax_ok(script: str) -> bool:
    return subprocess.run(["sh", "-n", "-c", script], check=False).returncode == 0


def test_a_partition_from_peers_drops_ip_and_arp_both_ways_in_chains_of_its_own() -> None:
    script = faults.partition_script(["10.213.3.13", "10.213.3.14"])
    assert _syntax_ok(script)
    for peer in ("10.213.3.13", "10.213.3.14"):
        assert f"iptables -A {faults.CHAIN_IN} -s {peer} -j DROP" in script
        assert f"iptables -A {faults.CHAIN_OUT} -d {peer} -j DROP" in script
        assert f"arptables -A INPUT -s {peer} -j DROP" in script
        assert f"arptables -A OUTPUT -d {peer} -j DROP" in script
    assert "-i eth0" not in script  # the rest of the network still reaches the node


def test_a_vrrp_only_partition_drops_protocol_112_and_no_arp() -> None:
    script = faults.partition_script(["10.213.3.13"], vrrp_only=True)
    assert f"-s 10.213.3.13 -p {faults.VRRP} -j DROP" in script
    assert "arptables" not in script


def test_a_partition_from_everyone_drops_every_frame_at_layer_2() -> None:
    """keepalived's gratuitous ARPs leave on a packet socket: only tc stops them."""
    script = faults.partition_script()
    assert _syntax_ok(script)
    assert "tc qdisc replace dev eth0 clsact" in script
    for hook in ("egress", "ingress"):
        assert (
            f"tc filter add dev eth0 {hook} protocol all prio 1 u32 match u32 0 0 "
            f"action mirred egress redirect dev {faults.SINK}"
        ) in script
    assert f"ip link set {faults.SINK} down" in script  # a down device drops what it gets


def test_heal_removes_the_rules_the_chains_and_the_layer_2_filter() -> None:
    script = faults.heal_script()
    assert _syntax_ok(script)
    assert f"iptables -D INPUT -j {faults.CHAIN_IN}" in script
    assert f"iptables -X {faults.CHAIN_OUT}" in script
    assert "tc qdisc del dev eth0 clsact" in script and f"ip link del {faults.SINK}" in script


def test_the_flap_loop_is_bounded_and_keeps_ipv6_addresses() -> None:
    script = faults.flap_script(15, 1.0, 1.0)
    assert _syntax_ok(script)
    assert "-lt 15" in script and "keep_addr_on_down" in script
    assert script.rstrip().splitlines()[-2] == "ip link set eth0 up"  # never left down


def test_the_cpu_hog_pins_one_bounded_loop_per_cpu() -> None:
    script = faults.hog_script(60, 2)
    assert _syntax_ok(script)
    assert "timeout 60 taskset -c 0 " in script and "timeout 60 taskset -c 1 " in script
    assert "taskset -c 2" not in script


SPANS = {"a": [(0.0, 5.0)], "b": [(4.0, 10.0)]}


def test_holder_count_steps_over_the_window() -> None:
    assert holder_count_edges(SPANS, 0.0, 10.0) == [(0.0, 1), (4.0, 2), (5.0, 1)]


@pytest.mark.parametrize(
    ("spans", "expected"),
    [(SPANS, 0.0), ({"a": [(0.0, 3.0)], "b": [(4.5, 10.0)]}, 1.5), ({}, 10.0)],
)
def test_no_holder_time(spans: dict[str, list[tuple[float, float]]], expected: float) -> None:
    assert no_holder_time(spans, 0.0, 10.0) == pytest.approx(expected)


def test_settled_at_is_when_exactly_one_holder_remained_to_the_end() -> None:
    assert settled_at(SPANS, 0.0, 10.0) == 5.0
    assert settled_at(SPANS, 6.0, 10.0) == 6.0  # already one holder at `since`
    assert settled_at({"a": [(0.0, 3.0)]}, 0.0, 10.0) is None  # nobody holds at the end
    assert settled_at({"a": [(0.0, 10.0)], "b": [(8.0, 10.0)]}, 0.0, 10.0) is None


def test_two_holder_spans_list_each_overlap_and_sum_to_the_two_holder_time() -> None:
    """A planned-moves cycle has two moves: each overlap is reported on its own."""
    spans = {
        "node1": [(0.0, 1.1), (2.05, 5.0)],
        "node2": [(1.0, 2.1)],
        "node3": [(1.05, 1.08)],  # a third holder inside the first overlap: still one span
    }
    got = two_holder_spans(spans, 0.0, 5.0)
    assert [(round(a, 3), round(b, 3)) for a, b in got] == [(1.0, 1.1), (2.05, 2.1)]
    assert two_holder_time(spans, 0.0, 5.0) == pytest.approx(0.15)
    assert two_holder_spans(spans, 1.09, 2.0) == [(1.09, 1.1)]

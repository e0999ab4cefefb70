"""The shared client probe's summary (what e2e tests assert and benchmarks report)."""

from __future__ import annotations

from swarmvip_lab.probe import summary


def test_summary_gives_the_largest_hole_failures_and_hosts_in_order() -> None:
    requests = [
        (0.00, "node1"),
        (0.01, "node1"),
        (0.02, None),
        (0.03, None),
        (0.05, "node2"),  # answers may arrive out of order: sorted by when they were sent
        (0.04, "node2"),
        (0.06, "node1"),
    ]
    result = summary(requests)
    assert round(result.max_gap, 3) == 0.03  # 0.01 -> 0.04
    assert result.fails == 2 and result.requests == 7
    assert result.holders == ["node1", "node2", "node1"] and result.moves == 2


def test_summary_of_no_answer() -> None:
    result = summary([(0.0, None)])
    assert (result.max_gap, result.fails, result.holders, result.moves) == (0.0, 1, [], 0)

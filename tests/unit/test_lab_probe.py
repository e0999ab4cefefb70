"""The shared client probe's summary (what e2e tests assert and benchmarks report)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from swarmvip_lab.probe import SCRIPT, summary


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


def test_the_probe_script_says_why_a_request_failed() -> None:
    """A failed request carries the exception's name (a refused connection, on loopback)."""
    with socket.socket() as free:  # a port nobody listens on: bound, never listening
        free.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{free.getsockname()[1]}/"
        probe = subprocess.Popen(  # stdin stays open: it stops after its 0.03 s limit
            [sys.executable, "-c", SCRIPT, url, "0.01", "0.2", "0.03", "1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert probe.stdout is not None and probe.stdin is not None
        out = probe.stdout.read()
        probe.wait(30)
        probe.stdin.close()
    rows = json.loads(out.splitlines()[-1])
    assert rows and all(row[1] is None for row in rows)
    assert {row[2] for row in rows} == {"ConnectionRefusedError"}

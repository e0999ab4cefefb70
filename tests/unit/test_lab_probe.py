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


def _probe_rows(url: str) -> list[list[object]]:
    """The probe script's rows for requests to `url` over 0.03 s (stdin stays open: it stops
    after its limit)."""
    probe = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, url, "0.01", "0.2", "0.03", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert probe.stdout is not None and probe.stdin is not None
    out = probe.stdout.read()
    probe.wait(30)
    probe.stdin.close()
    rows: list[list[object]] = json.loads(out.splitlines()[-1])
    return rows


def test_the_probe_script_says_why_and_in_which_phase_a_request_failed() -> None:
    """A failed request carries the exception's name and its phase, on loopback: a refused
    connection fails connecting; a server that accepts (the kernel completes the handshake)
    and never answers times out awaiting the answer."""
    with socket.socket() as free:  # a port nobody listens on: bound, never listening
        free.bind(("127.0.0.1", 0))
        rows = _probe_rows(f"http://127.0.0.1:{free.getsockname()[1]}/")
    assert rows and all(row[1] is None for row in rows)
    assert {row[2] for row in rows} == {"ConnectionRefusedError connecting"}
    with socket.create_server(("127.0.0.1", 0), backlog=16) as silent:  # never accepts
        rows = _probe_rows(f"http://127.0.0.1:{silent.getsockname()[1]}/")
    assert rows and all(row[1] is None for row in rows)
    assert {row[2] for row in rows} == {"TimeoutError awaiting"}

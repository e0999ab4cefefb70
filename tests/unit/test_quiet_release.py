"""agent.quiet: a release waits for an instant with no connection open to the VIP."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from swarmvip.agent.quiet import IDLE, open_connections, read_tables, wait_quiet

VIP = "10.213.2.101"
HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"


def row(local: str, state: str) -> str:
    return f"   0: {local} 3200D50A:C350 {state} 00000000:00000000 00:00000000 00000000 0 0 1"


V4 = "6502D50A:1F90"  # 10.213.2.101:8080 as /proc/net/tcp prints it on little-endian hosts
V6_MAPPED = "0000000000000000FFFF00006502D50A:1F90"  # ::ffff:10.213.2.101 in tcp6


@pytest.mark.parametrize(
    ("local", "state", "count"),
    [
        (V4, "01", 1),  # established
        (V4, "03", 1),  # SYN_RECV: mid-handshake
        (V4, "0A", 0),  # the listening socket
        (V4, "06", 0),  # TIME_WAIT: the client has its answer
        (V4, "04", 0),  # FIN_WAIT1: the server has closed
        (V6_MAPPED, "01", 1),  # a dual-stack server's IPv4 client
        ("0102D50A:1F90", "01", 0),  # another address (10.213.2.1)
    ],
)
def test_open_connections_counts_handshakes_and_open_ones_on_the_vip(
    local: str, state: str, count: int
) -> None:
    assert open_connections([HEADER, row(local, state)], frozenset({VIP})) == count


def test_open_connections_reads_the_kernels_own_table() -> None:
    addr = "127.45.67.89"
    with socket.create_server((addr, 0)) as server:
        assert open_connections(read_tables(), frozenset({addr})) == 0
        client = socket.create_connection(server.getsockname())
        conn, _ = server.accept()
        assert open_connections(read_tables(), frozenset({addr})) >= 1
        conn.close()
        client.close()
        assert open_connections(read_tables(), frozenset({addr})) == 0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def feed(states: list[bool]) -> Callable[[], list[str]]:
    """A table reader: busy or not per poll, the last state repeated."""
    polls = iter(states)
    last = [False]

    def read() -> list[str]:
        last[0] = next(polls, last[0])
        return [row(V4, "01")] if last[0] else []

    return read


def test_a_release_goes_right_after_a_connection_closes() -> None:
    clock = Clock()
    got = wait_quiet(frozenset({VIP}), 0.2, feed([False, True, True, False]), clock, clock.sleep)
    assert got.quiet and got.saw_busy
    assert got.waited == pytest.approx(0.003)


def test_an_idle_vip_is_released_after_the_idle_span() -> None:
    clock = Clock()
    got = wait_quiet(frozenset({VIP}), 0.2, feed([False]), clock, clock.sleep)
    assert got.quiet and not got.saw_busy
    assert IDLE <= got.waited < IDLE + 0.002


def test_a_vip_never_quiet_is_released_when_the_budget_ends() -> None:
    clock = Clock()
    got = wait_quiet(frozenset({VIP}), 0.2, feed([True]), clock, clock.sleep)
    assert not got.quiet and got.saw_busy
    assert 0.2 <= got.waited < 0.202

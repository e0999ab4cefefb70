"""bench/planned_moves: what it reads from the nodes."""

from __future__ import annotations

from bench.planned_moves import listen_drops

NETSTAT = (
    "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPBacklogDrop\n"
    "TcpExt: 0 0 7 9 0\n"
    "IpExt: InNoRoutes InTruncatedPkts\n"
    "IpExt: 0 0\n"
)


def test_listen_drops_reads_the_tcpext_counter() -> None:
    assert listen_drops(NETSTAT) == 9


def test_listen_drops_of_a_text_without_it_is_zero() -> None:
    assert listen_drops("") == 0
    assert listen_drops("TcpExt: SyncookiesSent\nTcpExt: 0\n") == 0

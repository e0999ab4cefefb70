"""agent.quiet: a release waits for an instant with no connection open to the VIP."""

from __future__ import annotations

import socket

import pytest

from swarmvip.agent.quiet import (
    IDLE,
    Quiet,
    Tracker,
    Watch,
    describe,
    open_connections,
    open_keys,
    read_tables,
    table_view,
    tcp_of_vip,
    wait_quiet,
)
from swarmvip.agent.vipsock import AND_K, JEQ_K, LDB_ABS, LDW_ABS, RET_K, SNAP, vip_filter

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


VIP_RAW = frozenset({bytes([10, 213, 2, 101])})


def ip_tcp(src: str, dst: str, flags: int) -> bytes:
    """An IPv4 header (20 bytes) and a TCP header with these flags."""
    ip = bytes([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0]) + socket.inet_aton(src)
    ip += socket.inet_aton(dst)
    tcp = bytes(13) + bytes([flags]) + bytes(6)
    return ip + tcp


def test_tcp_of_vip_sees_the_vips_packets_and_its_fins() -> None:
    assert tcp_of_vip(ip_tcp("10.213.2.50", VIP, 0x02), VIP_RAW) == (True, False)  # SYN in
    assert tcp_of_vip(ip_tcp(VIP, "10.213.2.50", 0x11), VIP_RAW) == (True, True)  # FIN out
    assert tcp_of_vip(ip_tcp("10.213.2.50", VIP, 0x11), VIP_RAW) == (True, False)  # client's
    assert tcp_of_vip(ip_tcp("10.213.2.50", "10.213.2.1", 0x11), VIP_RAW) == (False, False)
    udp = bytearray(ip_tcp(VIP, "10.213.2.50", 0x11))
    udp[9] = 17
    assert tcp_of_vip(bytes(udp), VIP_RAW) == (False, False)


def test_the_release_goes_right_after_a_close_when_nothing_else_is_open() -> None:
    w = Watch(start=0.0)
    assert w.decide(0.001, lambda: 0) is None  # quiet so far, not yet idle
    w.packet(0.002, fin=False)  # a request
    assert w.decide(0.003, lambda: 1) is None
    w.packet(0.004, fin=True)  # the server's FIN: the answer is out
    got = w.decide(0.004, lambda: 0)
    assert got == Quiet(0.004, True, True)


def test_a_close_with_another_connection_still_open_waits() -> None:
    w = Watch(start=0.0)
    w.packet(0.004, fin=True)
    assert w.decide(0.004, lambda: 1) is None  # another client mid-request
    w.packet(0.008, fin=True)
    assert w.decide(0.008, lambda: 0) == Quiet(0.008, True, True)


def test_an_idle_vip_is_released_after_the_idle_span() -> None:
    w = Watch(start=0.0)
    assert w.decide(IDLE - 0.001, lambda: 0) is None
    assert w.decide(IDLE, lambda: 0) == Quiet(IDLE, True, False)


def test_an_open_silent_connection_holds_the_release_until_the_budget() -> None:
    w = Watch(start=0.0, budget=0.2)
    assert w.decide(0.1, lambda: 1) is None  # idle on the wire, but open (keep-alive)
    assert w.decide(0.2, lambda: 1) == Quiet(0.2, False, False)


def test_wait_quiet_without_a_packet_socket_reads_the_tables() -> None:
    got = wait_quiet("no-such-nic0", frozenset({VIP}), 0.2, lambda: [])
    assert got.quiet and not got.after_close and IDLE <= got.waited < 0.2


def ip_tcp_ports(
    src: str, sport: int, dst: str, dport: int, flags: int, data: bytes = b""
) -> bytes:
    """IPv4 + TCP (20 bytes each, data offset 5) + data."""
    ip = bytes([0x45, 0, 0, 40 + len(data), 0, 0, 0, 0, 64, 6, 0, 0]) + socket.inet_aton(src)
    ip += socket.inet_aton(dst)
    ports = sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
    return ip + ports + bytes(8) + bytes([0x50, flags]) + bytes(6) + data


def test_the_tracker_counts_connections_from_their_packets() -> None:
    client = "10.213.2.50"
    t = Tracker(set())
    t.packet(ip_tcp_ports(client, 40000, VIP, 8080, 0x02), VIP_RAW)  # SYN: opens
    t.packet(ip_tcp_ports(client, 40001, VIP, 8080, 0x02), VIP_RAW)
    assert t.count() == 2
    t.packet(ip_tcp_ports(VIP, 8080, client, 40000, 0x12), VIP_RAW)  # SYN-ACK: no change
    t.packet(ip_tcp_ports(client, 40000, VIP, 8080, 0x11), VIP_RAW)  # the client's FIN: open
    assert t.count() == 2
    t.packet(ip_tcp_ports(VIP, 8080, client, 40000, 0x11), VIP_RAW)  # the VIP's FIN: done
    t.packet(ip_tcp_ports(client, 40001, VIP, 8080, 0x04), VIP_RAW)  # a reset: done
    assert t.count() == 0


def test_a_request_on_a_kept_alive_connection_counts_as_in_flight() -> None:
    t = Tracker(set())
    t.packet(ip_tcp_ports("10.213.2.50", 40000, VIP, 8080, 0x10), VIP_RAW)  # a bare ACK
    assert t.count() == 0
    t.packet(ip_tcp_ports("10.213.2.50", 40000, VIP, 8080, 0x18, b"GET /"), VIP_RAW)
    assert t.count() == 1


def test_an_established_connection_with_nothing_queued_is_not_in_flight() -> None:
    """A client reset by a move leaves its server's end established for good (a server that
    never times out): it must not hold every later release to the budget."""
    idle = row(V4, "01")
    queued = idle.replace("00000000:00000000", "00000000:0000001A")  # 26 bytes unread
    assert open_keys([HEADER, idle], frozenset({VIP})) == set()
    assert len(open_keys([HEADER, queued], frozenset({VIP}))) == 1


def test_the_log_tells_the_idle_connections_the_table_read_left_out() -> None:
    """A server still working on an answer (request read, nothing written yet) looks like an
    idle connection in the tables: the wait does not count it, and its line says how many."""
    idle, queued = row(V4, "01"), row(V4, "03")
    keys, left_out = table_view(
        [HEADER, idle, idle.replace(":C350", ":C351"), queued], frozenset({VIP})
    )
    assert (len(keys), left_out) == (1, 2)
    said = describe(Quiet(0.004, True, True, idle=2))
    assert said == "after 4 ms (between connections; 2 idle at the start)"


def test_a_connection_whose_client_let_a_retransmission_timeout_pass_is_not_in_flight() -> None:
    """A client gone (reset by an earlier move) leaves its server's answer queued and
    retransmitted for minutes: it must not hold a release to the budget."""
    queued = row(V4, "01").replace("00000000:00000000", "0000001A:00000000")  # 26 bytes unacked
    retransmitting = queued.replace("00:00000000 00000000", "01:0000003C 00000002")
    assert len(open_keys([HEADER, queued], frozenset({VIP}))) == 1
    assert open_keys([HEADER, retransmitting], frozenset({VIP})) == set()


def test_without_packets_the_tables_count_idle_connections_but_not_gone_ones() -> None:
    """Without a packet socket the tables are the only view: a request its server is working
    on shows nothing queued, so an idle established connection still holds the release (to
    the budget); a retransmitting one is a client gone, as with packets."""
    idle = row(V4, "01")
    retransmitting = idle.replace(
        "00000000:00000000 00:00000000 00000000", "0000001A:00000000 01:0000003C 00000002"
    )
    assert open_connections([HEADER, idle], frozenset({VIP})) == 1
    assert open_connections([HEADER, retransmitting], frozenset({VIP})) == 0
    held = wait_quiet("no-such-nic0", frozenset({VIP}), 0.05, lambda: [HEADER, idle])
    assert not held.quiet
    gone = wait_quiet("no-such-nic0", frozenset({VIP}), 0.2, lambda: [HEADER, retransmitting])
    assert gone.quiet and gone.waited < 0.2


def test_the_tracker_starts_from_the_open_rows_of_the_tables() -> None:
    rows = [HEADER, row(V4, "06"), row(V6_MAPPED, "03")]
    keys = open_keys(rows, frozenset({VIP}))
    assert len(keys) == 1  # the handshake; TIME_WAIT is over
    (key,) = keys
    assert key == (socket.inet_aton("10.213.0.50"), 0xC350, socket.inet_aton(VIP), 8080)
    t = Tracker(keys)
    t.packet(ip_tcp_ports(VIP, 8080, "10.213.0.50", 0xC350, 0x11), VIP_RAW)
    assert t.count() == 0


def test_wait_quiet_runs_then_at_the_instant_it_returns() -> None:
    ran: list[bool] = []
    got = wait_quiet(
        "no-such-nic0", frozenset({VIP}), 0.2, lambda: [], then=lambda: ran.append(True)
    )
    assert got.quiet and ran == [True]


def run_bpf(prog: list[tuple[int, int, int, int]], packet: bytes) -> int:
    """A classic BPF interpreter for the opcodes vip_filter uses: how many bytes it keeps."""
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = prog[pc]
        pc += 1
        if code == LDB_ABS:
            if k >= len(packet):
                return 0  # the kernel drops a packet read past its end
            acc = packet[k]
        elif code == LDW_ABS:
            if k + 4 > len(packet):
                return 0
            acc = int.from_bytes(packet[k : k + 4], "big")
        elif code == AND_K:
            acc &= k
        elif code == JEQ_K:
            pc += jt if acc == k else jf
        elif code == RET_K:
            return k
        else:
            raise AssertionError(f"opcode {code:#x}")


def test_the_kernel_filter_keeps_the_headers_of_the_vips_tcp_packets_only() -> None:
    """The socket queues what the swarm's own traffic would otherwise fill it with: nothing."""
    other = "10.213.2.99"
    vips = [socket.inet_aton(VIP), socket.inet_aton(other)]
    prog = vip_filter(vips)
    assert run_bpf(prog, ip_tcp("10.213.2.50", VIP, 0x02)) == SNAP  # a SYN to a VIP
    assert run_bpf(prog, ip_tcp(VIP, "10.213.2.50", 0x11)) == SNAP  # its FIN
    assert run_bpf(prog, ip_tcp("10.213.2.50", other, 0x02)) == SNAP  # the second VIP
    assert run_bpf(prog, ip_tcp("10.213.2.50", "10.213.2.12", 0x10)) == 0  # raft, logs, ...
    udp = bytearray(ip_tcp("10.213.2.50", VIP, 0x02))
    udp[9] = 17
    assert run_bpf(prog, bytes(udp)) == 0
    arp = bytes.fromhex("0001080006040001") + bytes(20)  # an ARP request: no IPv4 header
    assert run_bpf(prog, arp) == 0
    assert run_bpf(vip_filter([socket.inet_aton(VIP)]), ip_tcp("10.213.2.50", other, 2)) == 0
    with pytest.raises(ValueError):
        vip_filter([bytes(4)] * 130)


def test_a_wait_says_when_the_socket_lost_packets() -> None:
    said = describe(Quiet(0.004, True, True, lost=3))
    assert said == "after 4 ms (between connections; 3 packets lost, tables re-read)"
    assert describe(Quiet(0.004, True, True)) == "after 4 ms (between connections)"


def test_out_of_budget_a_wait_says_which_connections_kept_it_open() -> None:
    """A connection the table read found and no packet ended (stuck, or silent) is told
    apart from requests that kept coming during the wait, and those by their age: a young
    one is requests overlapping (a slow server), an old one a connection that stays open."""
    stuck = (socket.inet_aton("10.213.2.50"), 40000, socket.inet_aton(VIP), 8080)
    t = Tracker({stuck})
    t.packet(ip_tcp_ports("10.213.2.51", 40001, VIP, 8080, 0x02), VIP_RAW, at=1.0)  # a SYN
    t.packet(ip_tcp_ports("10.213.2.51", 40002, VIP, 8080, 0x02), VIP_RAW, at=1.1)
    t.packet(ip_tcp_ports("10.213.2.51", 40001, VIP, 8080, 0x18, b"GET /"), VIP_RAW, at=1.12)
    assert (t.count(), t.from_start(), t.oldest(1.15)) == (3, 1, pytest.approx(0.15))
    t.packet(ip_tcp_ports(VIP, 8080, "10.213.2.51", 40001, 0x11), VIP_RAW, at=1.13)  # its FIN
    assert t.oldest(1.15) == pytest.approx(0.05)
    t.packet(ip_tcp_ports("10.213.2.51", 40002, VIP, 8080, 0x04), VIP_RAW, at=1.14)  # a reset
    assert (t.count(), t.oldest(1.15)) == (1, 0.0)
    said = describe(Quiet(0.2, False, False, still_open=3, from_start=1, oldest=0.012))
    assert said == (
        "after 200 ms (connections still open: 3; 1 open from the start, 2 opened since"
        " (the oldest 12 ms ago))"
    )
    said = describe(Quiet(0.2, False, False, still_open=1, from_start=1))
    assert said == "after 200 ms (connections still open: 1; 1 open from the start, 0 opened since)"
    assert describe(Quiet(0.2, False, False)) == "after 200 ms (connections still open)"

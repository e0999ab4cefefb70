"""The packet socket through which the quiet tracker (agent.quiet) sees the VIPs' TCP packets.

An AF_PACKET socket on the VIP's interface, both directions (ETH_P_ALL: a socket bound to one
protocol is not shown the packets the host sends), with a classic BPF filter (`vip_filter`)
so that only the VIPs' TCP packets are queued, and only their headers: on a manager, the NIC
also carries the swarm's own traffic (raft, log streams), and a socket that copied all of it
to the agent could overflow while the agent waits its turn for a CPU, losing the very SYN
that says a connection opened. `lost` reads the kernel's count of packets the socket dropped
(PACKET_STATISTICS). Needs CAP_NET_RAW, which the agent's task has; without it `packets`
yields None.

`vip_filter` is pure; `packets` and `lost` call the kernel.
"""

from __future__ import annotations

import contextlib
import ctypes
import socket
import struct
from collections.abc import Iterator, Sequence

ETH_P_IP, ETH_P_ALL = 0x0800, 0x0003
TCP = 6
SO_ATTACH_FILTER, SOL_PACKET, PACKET_STATISTICS = 26, 263, 6
SNAP = 128  # bytes of a packet the socket keeps: the IPv4 and TCP headers, options included
# classic BPF opcodes (linux/filter.h)
LDB_ABS, LDW_ABS, AND_K, JEQ_K, RET_K = 0x30, 0x20, 0x54, 0x15, 0x06
Insn = tuple[int, int, int, int]  # (code, jump if true, jump if false, k)


def vip_filter(vips: Sequence[bytes], snap: int = SNAP) -> list[Insn]:
    """A classic BPF program for a SOCK_DGRAM packet socket (offsets from the IP header): keep
    the first `snap` bytes of IPv4 TCP packets from or to one of `vips` (packed IPv4), drop
    the rest."""
    checks = 5 + 2 * (1 + len(vips))
    drop, accept = checks, checks + 1
    if accept > 255:
        raise ValueError("too many addresses for one filter")
    prog: list[Insn] = [
        (LDB_ABS, 0, 0, 0),
        (AND_K, 0, 0, 0xF0),
        (JEQ_K, 0, drop - 3, 0x40),  # version 4
        (LDB_ABS, 0, 0, 9),
        (JEQ_K, 0, drop - 5, TCP),
    ]
    for offset in (12, 16):  # source, destination
        prog.append((LDW_ABS, 0, 0, offset))
        for vip in vips:
            prog.append((JEQ_K, accept - len(prog) - 1, 0, int.from_bytes(vip, "big")))
    prog += [(RET_K, 0, 0, 0), (RET_K, 0, 0, snap)]
    return prog


def _attach(sock: socket.socket, prog: list[Insn]) -> None:
    """SO_ATTACH_FILTER: the kernel copies the program (struct sock_fprog) at once."""
    code = b"".join(struct.pack("HBBI", *insn) for insn in prog)
    buf = ctypes.create_string_buffer(code, len(code))
    sock.setsockopt(
        socket.SOL_SOCKET, SO_ATTACH_FILTER, struct.pack("HP", len(prog), ctypes.addressof(buf))
    )


def lost(sock: socket.socket) -> int:
    """Packets the socket dropped since the last call (PACKET_STATISTICS resets on read)."""
    try:
        _, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    except OSError:
        return 0
    return int(drops)


@contextlib.contextmanager
def packets(iface: str, vips: Sequence[bytes] = ()) -> Iterator[socket.socket | None]:
    """A non-blocking packet socket on `iface`, both directions, keeping only the TCP headers
    of `vips` (packed IPv4) when given (None: not allowed or no such NIC). The filter is in
    place before the socket is bound to `iface`, and its loss counter starts at 0."""
    try:  # ETH_P_ALL: a socket bound to one protocol is not shown the packets the host sends
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    except (OSError, AttributeError):
        yield None
        return
    try:
        if vips:
            _attach(sock, vip_filter(vips))
        sock.bind((iface, ETH_P_ALL))
        sock.setblocking(False)
    except (OSError, ValueError):
        sock.close()
        yield None
        return
    try:
        lost(sock)
        yield sock
    finally:
        sock.close()

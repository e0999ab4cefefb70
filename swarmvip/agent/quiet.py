"""A quiet instant for a release: hand a VIP over between two connections, not during one.

A VIP move cannot carry TCP connections: once the new holder's gratuitous ARP reaches a client,
the rest of a connection it had opened to the old holder lands on the new one, which answers
with a reset. A planned move chooses its instant, so the holder's agent sends its release
(agent.release) when no connection to the group's addresses is open on this host, or
mid-handshake, and preferably right after one closed: a client sending requests one after
another is then furthest from its next one. It waits at most QUIET_BUDGET (at a client
switch, half an advert interval: agent.handoff): a server whose clients keep connections open
(HTTP keep-alive) is never quiet, and is released when the budget ends, as before.

Two views of the host, because a short request (a fraction of a millisecond on a LAN) falls
between any two reads of a socket table:
- the packets themselves, on the VIP's interface (a packet socket: CAP_NET_RAW, which the task
  has): a SYN to a VIP opens a connection, a FIN from the VIP (its answer is out) or a reset
  ends it, and no TCP packet of a VIP for IDLE seconds marks an idle server;
- /proc/net/tcp and tcp6 (IPv4-mapped addresses of dual-stack sockets included), read once at
  the start: connections that are open but silent, which no packet shows. Reading them again
  at each look would be too slow: with a client opening a connection every 10 ms they hold
  thousands of TIME_WAIT rows, a read takes milliseconds on a busy host, and the next
  connection opens meanwhile (the switch experiment lost requests that way). Without a packet
  socket they are read at each look.
The agent runs in the host's network namespace, so this sees the servers that listen there
(host network, or a port published in host mode). A port published through the ingress routing
mesh terminates in another namespace: its connections show in neither view, and the release
goes after IDLE, as for an idle server. Without a packet socket (no CAP_NET_RAW) only the
tables are read.

The packet socket (agent.vipsock) queues only the VIPs' TCP headers. (Measured without its
filter in the benchmark: no packet lost in any switch it logged; the filter is a margin, and
saves the copies.) If the kernel still reports packets lost, the packets no longer tell every
open connection: the tracker starts again from a table read before any decision.

`open_connections`, `open_keys`, `table_view`, `tcp_of_vip`, `Tracker` and `Watch` are pure;
`wait_quiet` reads the kernel.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from swarmvip.agent.vipsock import ETH_P_IP, TCP, lost, packets

QUIET_BUDGET = 0.2  # seconds a release waits at most for a quiet instant
IDLE = 0.03  # seconds without a TCP packet of a VIP (and none open): an idle server
POLL = 0.001
TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
# TCP states (include/net/tcp_states.h) in which a move breaks the exchange: the handshake and
# an open connection. After the server's FIN the client has its answer: a reset then is harmless.
ESTABLISHED, SYN_RECV = "01", "03"
BUSY_STATES = frozenset({ESTABLISHED, SYN_RECV})
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


def _address(hex_addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A /proc/net/tcp{,6} address: 32-bit words, each printed in the host's byte order
    (little-endian on every platform the image is built for)."""
    words = [bytes.fromhex(hex_addr[i : i + 8])[::-1] for i in range(0, len(hex_addr), 8)]
    raw = b"".join(words)
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw)
    v6 = ipaddress.IPv6Address(raw)
    return v6.ipv4_mapped or v6


def open_connections(lines: Iterable[str], vips: frozenset[str]) -> int:
    """How many connections in `lines` (rows of /proc/net/tcp or tcp6) to a VIP are in flight
    as far as the tables alone can tell (no packet socket): `open_keys`, established ones with
    nothing queued included, since a request its server is still working on shows nothing
    queued either."""
    return len(open_keys(lines, vips, idle=True))


def read_tables(paths: Iterable[str] = TABLES) -> list[str]:
    lines: list[str] = []
    for path in paths:
        try:
            with open(path, encoding="ascii") as f:
                lines.extend(f.readlines()[1:])
        except OSError:
            continue  # no IPv6 in this kernel
    return lines


def tcp_of_vip(packet: bytes, vips: frozenset[bytes]) -> tuple[bool, bool]:
    """(a TCP packet to or from a VIP, a FIN sent by a VIP) for one IPv4 packet."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != TCP:
        return False, False
    header = (packet[0] & 0x0F) * 4
    src, dst = packet[12:16], packet[16:20]
    if src not in vips and dst not in vips:
        return False, False
    flags = packet[header + 13] if len(packet) > header + 13 else 0
    return True, src in vips and bool(flags & FIN)


Key = tuple[bytes, int, bytes, int]  # (client address, its port, VIP, VIP port), packed


def open_keys(lines: Iterable[str], vips: frozenset[str], idle: bool = False) -> set[Key]:
    """The connections in `lines` (rows of /proc/net/tcp or tcp6) to a VIP that are in flight,
    by their addresses: mid-handshake, or established with data queued either way (with
    `idle`, established ones with nothing queued too: `open_connections`).
    - An established one with nothing queued is between requests (a keep-alive client: it
      breaks at its next request whatever the instant), or dead: a client reset by a move or
      a failover leaves its server's end established for good when the server never times
      out an idle connection (python's http.server); counting it would hold every later
      release to the budget.
    - One whose peer let a retransmission timeout pass (`retrnsmt` > 0) is not in flight
      either: on a LAN that is a client gone (a request that timed out at a move leaves its
      server's answer unacknowledged and retransmitted for minutes); a live one would not
      finish within the budget anyway (the next timeout comes 2 x 200 ms or more later)."""
    return {key for key, nothing_queued in _rows(lines, vips) if idle or not nothing_queued}


def table_view(lines: Iterable[str], vips: frozenset[str]) -> tuple[set[Key], int]:
    """`open_keys`, and how many established connections to a VIP it left out for having
    nothing queued (for the log: a server still working on an answer looks the same)."""
    rows = list(_rows(lines, vips))
    return {key for key, nothing_queued in rows if not nothing_queued}, sum(q for _, q in rows)


def _rows(lines: Iterable[str], vips: frozenset[str]) -> Iterator[tuple[Key, bool]]:
    """(its key, nothing queued) of each connection in `lines` to a VIP, mid-handshake or
    established, whose peer has not let a retransmission timeout pass."""
    for line in lines:
        fields = line.split()
        if len(fields) < 5 or fields[3] not in BUSY_STATES or ":" not in fields[2]:
            continue
        if len(fields) > 6 and _hex(fields[6]) > 0:
            continue  # its peer has not answered for a retransmission timeout: gone
        try:
            (local, lport), (remote, rport) = (_endpoint(fields[1]), _endpoint(fields[2]))
        except ValueError:
            continue
        if str(local) in vips:  # nothing queued: tx_queue:rx_queue both 0
            nothing_queued = fields[3] == ESTABLISHED and set(fields[4]) <= {"0", ":"}
            yield (remote.packed, rport, local.packed, lport), nothing_queued


def _hex(text: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        return 0


def _endpoint(text: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    addr, port = text.rsplit(":", 1)
    return _address(addr), int(port, 16)


class Tracker:
    """The connections in flight to the VIPs: one table read at the start (open_keys), then the
    packets: a SYN to a VIP, or data sent to it, opens one; a FIN from the VIP (its answer is
    out) or a reset ends it. Counting it costs nothing, where a table read costs milliseconds with
    thousands of TIME_WAIT rows, and the next connection may open meanwhile."""

    def __init__(self, initial: set[Key]) -> None:
        self.open = set(initial)
        self.initial = frozenset(initial)
        self.opened: dict[Key, float] = {}  # when a packet opened each key

    def oldest(self, now: float) -> float:
        """How long the oldest connection a packet opened has been open (0 when none is):
        next to `from_start`, it tells a stuck connection from requests that overlap."""
        ages = [now - self.opened[k] for k in self.open if k in self.opened]
        return max(ages, default=0.0)

    def from_start(self) -> int:
        """How many of the open ones the table read at the start found (no packet of theirs
        ended them since: a stuck connection, or one that keeps quiet)."""
        return len(self.open & self.initial)

    def packet(self, packet: bytes, vips: frozenset[bytes], at: float = 0.0) -> None:
        if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != TCP:
            return
        header = (packet[0] & 0x0F) * 4
        if len(packet) < header + 14:
            return
        src, dst = packet[12:16], packet[16:20]
        sport, dport = (
            int.from_bytes(packet[header : header + 2], "big"),
            int.from_bytes(packet[header + 2 : header + 4], "big"),
        )
        flags = packet[header + 13]
        if dst in vips:
            key = (src, sport, dst, dport)
            data = int.from_bytes(packet[2:4], "big") - header - (packet[header + 12] >> 4) * 4
            if flags & RST:
                self._close(key)
            elif ((flags & SYN and not flags & ACK) or data > 0) and key not in self.open:
                self.open.add(key)  # a new connection, or a request on a kept-alive one
                self.opened[key] = at
        elif src in vips and flags & (FIN | RST):
            self._close((dst, dport, src, sport))

    def _close(self, key: Key) -> None:
        self.open.discard(key)
        self.opened.pop(key, None)

    def count(self) -> int:
        return len(self.open)


@dataclass(frozen=True, slots=True)
class Quiet:
    """How a wait for a quiet instant ended: after `waited` s, `quiet` or out of budget, right
    after a connection closed (`after_close`)."""

    waited: float
    quiet: bool
    after_close: bool
    lost: int = 0  # packets the socket lost meanwhile (the tracker started again each time)
    still_open: int = 0  # out of budget: connections open at the end (with a packet socket)
    from_start: int = 0  # of those, how many were open since the wait began (the table read)
    oldest: float = 0.0  # of the others, how long the oldest had been open
    idle: int = 0  # established ones with nothing queued at the start, not counted (table_view)


def describe(q: Quiet) -> str:
    """For the agent's log: 'after 4 ms (between connections)'."""
    how = "between connections" if q.after_close else "idle"
    if not q.quiet:
        how = "connections still open"
        if q.still_open:
            since = q.still_open - q.from_start
            how += f": {q.still_open}; {q.from_start} open from the start, {since} opened since"
            if since:
                how += f" (the oldest {q.oldest * 1000:.0f} ms ago)"
    if q.idle:
        how += f"; {q.idle} idle at the start"
    lost = f"; {q.lost} packets lost, tables re-read" if q.lost else ""
    return f"after {q.waited * 1000:.0f} ms ({how}{lost})"


@dataclass
class Watch:
    """The decision, fed with what the packets and the tables show. Pure."""

    start: float
    budget: float = QUIET_BUDGET
    last_packet: float | None = None  # the last TCP packet of a VIP
    closed: bool = False  # a FIN from a VIP since the last decision

    def packet(self, at: float, fin: bool) -> None:
        self.last_packet, self.closed = at, self.closed or fin

    def decide(self, now: float, open_now: Callable[[], int]) -> Quiet | None:
        """A Quiet to release now, or None to go on watching. `open_now` is asked only when
        the packets say it could be time (a table read costs more than a packet)."""
        idle = now - (self.start if self.last_packet is None else self.last_packet) >= IDLE
        if self.closed or idle:
            after_close, self.closed = self.closed, False
            if open_now() == 0:
                return Quiet(now - self.start, True, after_close)
        if now - self.start >= self.budget:
            return Quiet(now - self.start, False, False)
        return None


def wait_quiet(
    iface: str,
    vips: frozenset[str],
    budget: float = QUIET_BUDGET,
    read: Callable[[], list[str]] = read_tables,
    clock: Callable[[], float] = time.monotonic,
    then: Callable[[], None] | None = None,
) -> Quiet:
    """Return right after a connection to the VIPs closed with none left open, once they have
    had no TCP packet for IDLE s and none open, or when `budget` runs out; `then` runs at that
    instant. With a packet socket the tables are read once, then the packets keep count
    (Tracker), and again when the socket lost packets; without one, the tables are read at
    each look."""
    raw = frozenset(ipaddress.ip_address(v).packed for v in vips)
    watch = Watch(clock(), budget)
    with packets(iface, sorted(a for a in raw if len(a) == 4)) as sock:
        view = None if sock is None else _PacketView(sock, raw, vips, read)

        def tables() -> int:
            return open_connections(read(), vips)

        while True:
            if view is not None:
                view.poll(watch, clock)
            else:
                time.sleep(POLL)
            got = watch.decide(clock(), tables if view is None else view.open_now)
            if got is not None:
                if then is not None:
                    then()
                return got if view is None else view.told(got, clock())


class _PacketView:
    """What the packet socket shows: the Tracker, started again from the tables when the
    socket lost packets. Losses are read when a decision is due (`open_now`), not at each
    poll."""

    def __init__(
        self,
        sock: socket.socket,
        raw: frozenset[bytes],
        vips: frozenset[str],
        read: Callable[[], list[str]],
    ) -> None:
        self.sock, self.raw, self.vips, self.read = sock, raw, vips, read
        keys, self.idle = table_view(read(), vips)
        self.tracker = Tracker(keys)
        self.dropped = 0

    def poll(self, watch: Watch, clock: Callable[[], float]) -> None:
        ready, _, _ = select.select([self.sock], [], [], POLL)
        if ready:
            _read(self.sock, self.raw, watch, self.tracker, clock)

    def open_now(self) -> int:
        if missed := lost(self.sock):  # the packets have a hole: start from the tables
            self.dropped += missed
            self.tracker = Tracker(open_keys(self.read(), self.vips))
        return self.tracker.count()

    def told(self, got: Quiet, now: float) -> Quiet:
        """`got` with what this view knows: packets lost, and out of budget what was open."""
        self.dropped += lost(self.sock)
        if got.quiet:
            return replace(got, lost=self.dropped, idle=self.idle)
        return replace(
            got,
            lost=self.dropped,
            idle=self.idle,
            still_open=self.tracker.count(),
            from_start=self.tracker.from_start(),
            oldest=self.tracker.oldest(now),
        )


def _read(
    sock: socket.socket,
    raw: frozenset[bytes],
    watch: Watch,
    tracker: Tracker,
    clock: Callable[[], float],
) -> None:
    """Feed every queued packet to `tracker` and `watch`."""
    while True:
        try:
            data, addr = sock.recvfrom(128)
        except BlockingIOError:
            return
        if addr[1] != ETH_P_IP:
            continue
        seen, fin = tcp_of_vip(data, raw)
        if seen:
            at = clock()
            tracker.packet(data, raw, at)
            watch.packet(at, fin)

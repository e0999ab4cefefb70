"""A quiet instant for a release: hand a VIP over between two connections, not during one.

A VIP move cannot carry TCP connections: once the new holder's gratuitous ARP reaches a client,
the rest of a connection it had opened to the old holder lands on the new one, which answers
with a reset. A planned move chooses its instant, so the holder's agent sends its release
(agent.release) when no connection to the group's addresses is open, or mid-handshake, on this
host: right after one closes, when a client sending requests one after another is furthest from
its next one. It waits at most QUIET_BUDGET: a server whose clients keep connections open
(HTTP keep-alive) is never quiet, and is released when the budget ends, as before.

Connections are read from /proc/net/tcp and tcp6 (IPv4-mapped addresses of dual-stack sockets
included): the agent runs in the host's network namespace, so this sees the servers that listen
there (host network, or a port published in host mode). A port published through the ingress
routing mesh terminates in another namespace: always quiet here, released at once.

`open_connections` is pure; `wait_quiet` reads the kernel's tables.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

QUIET_BUDGET = 0.2  # seconds a release waits at most for a quiet instant
IDLE = 0.03  # seconds without a connection: an idle server, released without waiting for one
POLL = 0.001
TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
# TCP states (include/net/tcp_states.h) in which a move breaks the exchange: the handshake and
# an open connection. After the server's FIN the client has its answer: a reset then is harmless.
ESTABLISHED, SYN_RECV = "01", "03"
BUSY_STATES = frozenset({ESTABLISHED, SYN_RECV})


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
    """How many sockets in `lines` (rows of /proc/net/tcp or tcp6) have a VIP as their local
    address and are mid-handshake or established."""
    count = 0
    for line in lines:
        fields = line.split()
        if len(fields) < 4 or fields[3] not in BUSY_STATES or ":" not in fields[1]:
            continue
        try:
            local = _address(fields[1].rsplit(":", 1)[0])
        except ValueError:
            continue  # the header row
        if str(local) in vips:
            count += 1
    return count


def read_tables(paths: Iterable[str] = TABLES) -> list[str]:
    lines: list[str] = []
    for path in paths:
        try:
            with open(path, encoding="ascii") as f:
                lines.extend(f.readlines()[1:])
        except OSError:
            continue  # no IPv6 in this kernel
    return lines


@dataclass(frozen=True, slots=True)
class Quiet:
    """How a wait for a quiet instant ended: after `waited` s, `quiet` or out of budget, having
    seen the VIP busy at least once (`saw_busy`)."""

    waited: float
    quiet: bool
    saw_busy: bool


def describe(q: Quiet) -> str:
    """For the agent's log: 'after 4 ms (between connections)'."""
    how = "between connections" if q.saw_busy else "idle"
    return f"after {q.waited * 1000:.0f} ms ({how if q.quiet else 'connections still open'})"


def wait_quiet(
    vips: frozenset[str],
    budget: float = QUIET_BUDGET,
    read: Callable[[], list[str]] = read_tables,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Quiet:
    """Return at the first instant a connection to the VIPs has just closed (busy, then none
    open), once they have had none for IDLE s, or when `budget` runs out."""
    start = clock()
    busy_seen = False
    quiet_since: float | None = None
    while True:
        now = clock()
        busy = open_connections(read(), vips) > 0
        if busy:
            busy_seen, quiet_since = True, None
        else:
            if busy_seen:
                return Quiet(now - start, True, True)
            quiet_since = now if quiet_since is None else quiet_since
            if now - quiet_since >= IDLE:
                return Quiet(now - start, True, False)
        if now - start >= budget:
            return Quiet(now - start, False, busy_seen)
        sleep(POLL)

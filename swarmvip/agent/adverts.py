"""Who let a VIP go: the priority-0 VRRP adverts this node receives, named in its reports.

A backup becomes MASTER for one of two reasons. Either the master stopped advertising (it
died, or the network between them failed) and Master_Down_Interval ran out, or the master
released the group with a priority-0 advert (keepalived stopping, or the agent's planned
release, agent.release) and the backup took over after Skew_Time (RFC 5798 6.4.2). Only the
second says the old master let go. The agent keeps a copy of each advert it receives (a raw
socket of IP protocol 112 gets one beside keepalived's own) and remembers, per VRID, the last
priority-0 advert; when keepalived then says MASTER, the report names the address that
released (InstanceReport.after_release).

Status needs it when the old master cannot report its own release: a Docker daemon that stops
closes its node's log stream before it stops the containers, so the old master's last line
still says "holding". A master that merely went silent (a partition: a real split brain) sent
no priority-0 advert, and is still believed.

`parse` and `Releases` are pure; `AdvertWatcher` reads the sockets (CAP_NET_RAW, which the
task has).
"""

from __future__ import annotations

import ipaddress
import select
import socket
import threading
import time
from collections.abc import Callable

IPPROTO_VRRP = 112
VRRP_TYPE_ADVERT = 1


def parse(packet: bytes, with_ip_header: bool) -> tuple[int, int] | None:
    """(vrid, priority) of a VRRP v2/v3 advert, or None. An IPv4 raw socket hands over the IP
    header too (its length in the first byte); an IPv6 one only the payload."""
    start = (packet[0] & 0x0F) * 4 if with_ip_header and packet else 0
    head = packet[start : start + 3]
    if len(head) < 3 or head[0] >> 4 not in (2, 3) or head[0] & 0x0F != VRRP_TYPE_ADVERT:
        return None
    return head[1], head[2]


class Releases:
    """The last priority-0 advert per VRID: (monotonic time, source address). A later advert
    of another priority from the same source (it advertises again) forgets it for
    `released_by`, which status relies on (agent reports). `sent_release` asks another
    question: did this source send a priority-0 advert lately, whatever it sent since. A
    planned move needs that one: the old holder stays MASTER, advertising, until its switch,
    so its next regular advert may reach the lifted node between the release and the
    lifted node's look at it (then its hold ended at once, and the clients were switched by
    keepalived's own announcement in the middle of a connection: a reset, session 11)."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[float, str]] = {}
        self._zero: dict[tuple[int, str], float] = {}  # (vrid, source) -> last priority 0
        self._lock = threading.Lock()

    def saw(self, vrid: int, priority: int, source: str, at: float) -> None:
        with self._lock:
            if priority == 0:
                self._last[vrid] = (at, source)
                self._zero[vrid, source] = at
            elif (known := self._last.get(vrid)) is not None and known[1] == source:
                del self._last[vrid]

    def last(self, vrid: int) -> tuple[float, str] | None:
        """The last priority-0 advert of `vrid` still remembered: (when, from whom)."""
        with self._lock:
            return self._last.get(vrid)

    def released_by(self, vrid: int, now: float, within: float) -> str | None:
        """The address that released `vrid` at most `within` seconds before `now`, or None."""
        with self._lock:
            known = self._last.get(vrid)
        if known is None or not 0.0 <= now - known[0] <= within:
            return None
        return known[1]

    def sent_release(self, vrid: int, source: str, now: float, within: float) -> float | None:
        """How long before `now` `source` last sent a priority-0 advert of `vrid`, if at most
        `within` seconds (its adverts since do not matter); else None."""
        with self._lock:
            at = self._zero.get((vrid, source))
        if at is None or not 0.0 <= now - at <= within:
            return None
        return now - at


def open_sockets(families: set[int]) -> list[socket.socket]:
    """Raw sockets of protocol 112, one per address family; OSError (no CAP_NET_RAW)."""
    opened: list[socket.socket] = []
    try:
        for family in sorted(families):
            opened.append(socket.socket(family, socket.SOCK_RAW, IPPROTO_VRRP))
    except OSError:
        for sock in opened:
            sock.close()
        raise
    return opened


def families_of(addresses: list[str]) -> set[int]:
    """The address families of the VRRP source addresses (AF_INET, AF_INET6)."""
    return {
        socket.AF_INET if ipaddress.ip_address(a).version == 4 else socket.AF_INET6
        for a in addresses
    }


class AdvertWatcher(threading.Thread):
    """Records every advert the sockets receive into `releases`; ends when a socket fails."""

    def __init__(
        self,
        sockets: list[socket.socket],
        releases: Releases,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name="advert-watcher", daemon=True)
        self.sockets, self.releases, self.clock = sockets, releases, clock

    def run(self) -> None:
        while True:
            ready, _, _ = select.select(self.sockets, [], [])
            for sock in ready:
                packet, peer = sock.recvfrom(2048)
                found = parse(packet, sock.family == socket.AF_INET)
                if found is not None:
                    self.releases.saw(found[0], found[1], str(peer[0]), self.clock())

"""The clients' switch of a planned move, made at the old holder's quiet instant.

A planned move's failed request (at most one per move with today's release) comes from where
the clients switch: at the *new* holder's gratuitous ARP, a few milliseconds after the old
holder's quiet instant, often inside the next connection (bench/results/switch-experiment*.md).
So, when both agents can:

- the lifted node T *holds* its announcements of the group's VIPs: an nftables rule on the
  netdev egress hook of the VIP's NIC turns ARP that says "the VIP is here" (gratuitous ARP,
  and replies for the VIP) into probes that no cache learns from. keepalived sends its
  gratuitous ARP through a packet socket, which only this hook sees; it cannot be told to
  send none;
- the holder H drops T's adverts for the moment (an `inet` input rule), so it stays MASTER
  with its clients while T takes over; a packet socket bound to every protocol still sees them;
- at its quiet instant H sends the gratuitous ARP itself, naming T's MAC with H's own Ethernet
  source (no bridge learns T's MAC on H's port): the clients switch within a fraction of a
  millisecond of the instant; then H lets T's adverts in and releases again, and yields.

One race is left at the instant itself: a client whose SYN reaches H in the fraction of a
millisecond between H's last look and the client's ARP update finishes its handshake with T,
which knows nothing of it and resets it (about 1 move in 100 with a client every 10 ms,
session 11). So T, from its lift until shortly after the switch, sends *back to H* (its MAC,
out of the same NIC) the TCP packets to the VIPs of connections whose SYN T did not see (a
netdev ingress rule with a set of the SYNs it saw; `stray_ruleset`): H still has the VIP and
the connection, and answers the client itself. T sends them from its own MAC: a bridge learns
from a frame's source, and with the client's it would send H's answers to T (session 12's
CI). The window is a set element with a timeout, so the rule goes inert by itself; the switch
shortens it to STRAY_AFTER.

Rules live in tables of their own (`swarmvip_hold_<vrid>`, `swarmvip_block_<vrid>`,
`swarmvip_stray_<vrid>`), created whole and deleted whole; the agent deletes its own at start.
Needs `nft` and Linux >= 5.16 (the netdev egress hook): `available` probes both. The rule text
and the frames are pure.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from swarmvip.agent import adverts

NFT_TIMEOUT = 5.0
ETH_P_ALL, ETH_P_ARP = 0x0003, 0x0806
PACKET_OUTGOING = 4
IPPROTO_VRRP = 112
MARK = 0x53564950  # "SVIP": the agent's own announcements pass its hold (SO_MARK)
# What the hold does to an announcement: its sender address becomes 0.0.0.0, an ARP probe (RFC
# 5227) that no cache learns from. Not a drop: a dropped send fails with ENOBUFS, and keepalived
# logs "Error 105 (No buffer space available) sending gratuitous ARP" for each one.
PROBE = "arp saddr ip set 0.0.0.0"
STRAY_SEEN = 10  # seconds a SYN the lifted node saw keeps its connection its own
ATF_COM = 0x02  # /proc/net/arp flags: a complete entry


class HoldError(OSError):
    """nft failed (the message says how)."""


def hold_table(vrid: int) -> str:
    return f"swarmvip_hold_{vrid}"


def block_table(vrid: int) -> str:
    return f"swarmvip_block_{vrid}"


def stray_table(vrid: int) -> str:
    return f"swarmvip_stray_{vrid}"


def hold_ruleset(vrid: int, dev: str, vips: Iterable[str], replies: bool = True) -> str:
    """A netdev table whose egress chain on `dev` defuses this host's ARP announcing any of the
    (IPv4) VIPs (PROBE): gratuitous ARP (sender and target the VIP) and, if `replies`, replies
    from the VIP, except the agent's own (marked MARK). The old holder's own hold keeps its
    replies: a cache that a gratuitous ARP just updated ignores a reply for a second (Linux's
    locktime), and a client without an entry must still be answered until the switch."""
    rules = []
    for vip in vips:
        addr = ipaddress.IPv4Address(vip)
        own = f"meta mark != {MARK:#x}"
        rules.append(f"    {own} arp saddr ip {addr} arp daddr ip {addr} counter {PROBE}")
        if replies:
            rules.append(f"    {own} arp operation reply arp saddr ip {addr} counter {PROBE}")
    body = "\n".join(rules)
    table = f"netdev {hold_table(vrid)}"
    return (
        f"table {table}\ndelete table {table}\n"  # one batch replaces what a hold left
        f"table {table} {{\n"
        f"  chain egress {{\n"
        f'    type filter hook egress device "{_dev(dev)}" priority 0;\n'
        f"{body}\n"
        f"  }}\n"
        f"}}\n"
    )


def block_ruleset(vrid: int, peer: str) -> str:
    """An inet table whose input chain drops VRRP from `peer` (IPv4)."""
    addr = ipaddress.IPv4Address(peer)
    return (
        f"table inet {block_table(vrid)} {{\n"
        f"  chain input {{\n"
        f"    type filter hook input priority 0;\n"
        f"    ip saddr {addr} ip protocol {IPPROTO_VRRP} drop\n"
        f"  }}\n"
        f"}}\n"
    )


def stray_ruleset(
    vrid: int, dev: str, vips: Iterable[str], macs: tuple[str, str], window: float
) -> str:
    """A netdev table whose ingress chain on `dev` sends to the holder (out of `dev` again),
    for `window` seconds, the TCP packets to the (IPv4) VIPs of connections whose SYN this
    node did not see, unless they come from the holder itself (no loop); `seen` records the
    SYNs, `window` holds the VIPs with their timeout. `macs` is (this node's, the holder's).
    A frame sent back leaves with this node's MAC as its source: with the client's, a bridge
    or switch would learn the client (or its router) on this node's port, and the holder's
    answer would come here instead of to the client."""
    own, mac = (mac_text(mac_bytes(m)) for m in macs)
    elements = _window(vips, window)
    table = f"netdev {stray_table(vrid)}"
    return (
        f"table {table}\ndelete table {table}\n"
        f"table {table} {{\n"
        f"  set seen {{\n    type ipv4_addr . inet_service\n    flags dynamic,timeout\n"
        f"    timeout {STRAY_SEEN}s\n  }}\n"
        f"  set window {{\n    type ipv4_addr\n    flags timeout\n"
        f"    elements = {{ {elements} }}\n  }}\n"
        f"  chain ingress {{\n"
        f'    type filter hook ingress device "{_dev(dev)}" priority -150; policy accept;\n'
        f"    ip daddr @window tcp flags & (syn | ack) == syn"
        f" add @seen {{ ip saddr . tcp sport }}\n"
        f"    ip daddr @window tcp flags & syn == 0 ether saddr != {mac}"
        f" ip saddr . tcp sport != @seen counter ether saddr set {own} ether daddr set {mac}"
        f' fwd to "{_dev(dev)}"\n'
        f"  }}\n"
        f"}}\n"
    )


def stray_shorten(vrid: int, vips: Iterable[str], window: float) -> str:
    """Commands that end the stray window `window` seconds from now (after the switch)."""
    table = f"netdev {stray_table(vrid)}"
    return f"flush set {table} window\nadd element {table} window {{ {_window(vips, window)} }}\n"


def _window(vips: Iterable[str], window: float) -> str:
    """The stray window's set elements: each (IPv4) VIP, expiring `window` seconds from now."""
    ms = max(1, round(window * 1000))
    addrs = [ipaddress.IPv4Address(v) for v in vips]
    if not addrs:
        raise ValueError("no IPv4 address to watch")
    return ", ".join(f"{a} timeout {ms}ms" for a in addrs)


def neighbour_mac(address: str, table: str) -> str | None:
    """`address`'s MAC in /proc/net/arp's text (a complete entry), or None."""
    for line in table.splitlines()[1:]:
        fields = line.split()
        complete = len(fields) >= 4 and int(fields[2], 16) & ATF_COM
        if complete and fields[0] == address and fields[3] != "00:00:00:00:00:00":
            return fields[3]
    return None


def mac_of(address: str) -> str | None:
    """The MAC this host's ARP cache has for `address` (IPv4), or None."""
    try:
        return neighbour_mac(address, Path("/proc/net/arp").read_text())
    except OSError:
        return None


def _dev(dev: str) -> str:
    if not dev or len(dev) > 15 or any(c in dev for c in ' "\\/\n\t;{}'):
        raise ValueError(f"not an interface name: {dev!r}")
    return dev


def nft(ruleset: str) -> None:
    """Apply a ruleset (`nft -f -`); HoldError with nft's message."""
    try:
        done = subprocess.run(
            ["nft", "-f", "-"], input=ruleset, capture_output=True, text=True,
            timeout=NFT_TIMEOUT, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HoldError(f"nft: {exc}") from None
    if done.returncode != 0:
        raise HoldError(f"nft: {done.stderr.strip() or done.returncode}")


def held_packets(listing: str) -> int:
    """The packets a hold's rules defused, from `nft list table` of it (its counters)."""
    return sum(int(n) for n in re.findall(r"counter packets (\d+)", listing))


def held(vrid: int) -> int | None:
    """How many announcements the hold of `vrid` has defused so far; None if unknown."""
    return counted(hold_table(vrid))


def counted(table: str) -> int | None:
    """The packets the rules of netdev `table` counted so far; None if unknown."""
    try:
        done = subprocess.run(
            ["nft", "list", "table", "netdev", table], capture_output=True,
            text=True, timeout=NFT_TIMEOUT, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return held_packets(done.stdout) if done.returncode == 0 else None


def delete(family: str, table: str) -> bool:
    """Delete a table if it exists; False when there was none (or nft cannot run)."""
    try:
        done = subprocess.run(
            ["nft", "delete", "table", family, table], capture_output=True, text=True,
            timeout=NFT_TIMEOUT, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def clean(vrids: Iterable[int]) -> None:
    """Delete what an earlier agent of these groups left (a crash between hold and release)."""
    if shutil.which("nft") is None:
        return
    for vrid in vrids:
        delete("netdev", hold_table(vrid))
        delete("netdev", stray_table(vrid))
        delete("inet", block_table(vrid))


def available(dev: str) -> str | None:
    """None when holds work here (nft runs, the kernel has the netdev egress hook), else why."""
    if shutil.which("nft") is None:
        return "no nft (Debian package nftables)"
    probe = f"swarmvip_probe_{os.getpid()}"
    ruleset = (
        f"table netdev {probe} {{\n  chain egress {{\n"
        f'    type filter hook egress device "{_dev(dev)}" priority 0;\n  }}\n}}\n'
    )
    try:
        nft(ruleset)
    except HoldError as exc:
        return f"no netdev egress hook (Linux >= 5.16): {exc}"
    delete("netdev", probe)
    return None


# --- frames ------------------------------------------------------------------------------------
def mac_bytes(mac: str) -> bytes:
    raw = bytes.fromhex(mac.replace(":", ""))
    if len(raw) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return raw


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw[:6])


def own_mac(dev: str) -> str:
    return Path(f"/sys/class/net/{_dev(dev)}/address").read_text().strip()


def garp_frame(own: str, holder: str, vip: str) -> bytes:
    """A gratuitous ARP (a broadcast request for the VIP by the VIP) saying the VIP is at
    `holder`, in an Ethernet frame from `own`."""
    ip = ipaddress.IPv4Address(vip).packed
    return (
        b"\xff" * 6 + mac_bytes(own) + struct.pack("!H", ETH_P_ARP)
        + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)  # a request, IPv4 over Ethernet
        + mac_bytes(holder) + ip + b"\0" * 6 + ip
    )  # fmt: skip


class Announcer:
    """Gratuitous ARP naming `holder` for each VIP, built and with its socket open ahead, so
    `send` costs only the sends (the switch must follow its quiet instant at once); OSError."""

    def __init__(self, dev: str, holder: str, vips: Iterable[str]) -> None:
        own = own_mac(dev)
        self.frames = [garp_frame(own, holder, vip) for vip in vips]
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        try:
            self.sock.bind((dev, 0))
        except OSError:
            self.sock.close()
            raise
        with contextlib.suppress(OSError):  # without CAP_NET_ADMIN: unmarked (held, if held)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, MARK)

    def send(self) -> None:
        for frame in self.frames:
            self.sock.send(frame)

    def __enter__(self) -> Announcer:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()


def announce(dev: str, holder: str, vips: Iterable[str]) -> None:
    """Send one gratuitous ARP per VIP naming `holder` now; OSError."""
    with Announcer(dev, holder, vips) as announcer:
        announcer.send()


def advert_from(packet: bytes, src: str) -> bool:
    """An IPv4 packet (IP header first) that is a VRRP advert from `src` with a priority above
    0 (priority 0 is a release, not a MASTER's advert)."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != IPPROTO_VRRP:
        return False
    found = adverts.parse(packet, with_ip_header=True)
    return found is not None and found[1] > 0 and packet[12:16] == ipaddress.IPv4Address(src).packed


def names(packet: bytes, vips: frozenset[bytes], mac: bytes) -> bool:
    """An ARP packet (ARP header first) that announces one of `vips` at `mac`."""
    if len(packet) < 28:
        return False
    return packet[8:14] == mac and packet[14:18] in vips


def advert_socket(dev: str) -> socket.socket:
    """A packet socket on `dev` that sees every frame, before the input hook (so a blocked
    peer's adverts too); OSError."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    try:
        sock.bind((dev, ETH_P_ALL))
    except OSError:
        sock.close()
        raise
    return sock


def wait_advert(sock: socket.socket, src: str, timeout: float) -> str | None:
    """The MAC of the first advert from `src` within `timeout` s, or None."""
    end = time.monotonic() + timeout
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            break
        data, addr = sock.recvfrom(256)
        if addr[1] == 0x0800 and addr[2] != PACKET_OUTGOING and advert_from(data, src):
            return mac_text(addr[4])
    return None


class SwitchWatcher:
    """Calls `on_switched` once a gratuitous ARP from another host names `mac` for one of the
    VIPs (the old holder's switch), from a thread of its own; `stop` ends it."""

    def __init__(self, dev: str, vips: Iterable[str], mac: str, on_switched: Callable[[], None]):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ARP))
        try:
            self.sock.bind((dev, ETH_P_ARP))
        except OSError:
            self.sock.close()
            raise
        self.vips = frozenset(ipaddress.IPv4Address(v).packed for v in vips)
        self.mac, self.on_switched = mac_bytes(mac), on_switched
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="switch-watcher", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stopped.is_set():
                ready, _, _ = select.select([self.sock], [], [], 0.1)
                if not ready:
                    continue
                data, addr = self.sock.recvfrom(128)
                if addr[2] != PACKET_OUTGOING and names(data, self.vips, self.mac):
                    self.on_switched()
                    return
        except OSError:
            return
        finally:
            self.sock.close()

    def stop(self) -> None:
        self.stopped.set()

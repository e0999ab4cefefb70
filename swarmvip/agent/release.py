"""The priority-0 release: one VRRP advert that hands a group to the node lifted to take it.

A planned move lifts the new holder T above the current holder H (wire.command, plan.moves).
keepalived on T then preempts only after its Master_Down_Interval (3 x advert_int + skew:
0.77 s with the `default` timers), because a backup that outranks the master ignores the
master's adverts and waits for them to stop. RFC 5798 6.4.2 has a faster way in: a backup that
receives an advert of priority 0 sets its Master_Down_Timer to Skew_Time
(((256 - priority) x advert_int) / 256: 2 ms at priority 254). So H's agent, told by the
relay, sends T alone one priority-0 advert in H's name. T becomes MASTER and advertises; H's
keepalived, still MASTER and still holding the VIP, hears T's higher advert and yields:
make-before-break, as with plain preemption, only sooner. Nobody else hears the release, so no
third node races T. If the datagram is lost, T preempts by itself after the usual interval.

The advert is the one keepalived itself sends (vrrp.c, vrrp_state_leave_master), built from the
instance's plan: VRRPv2 (integer advert_int in seconds, 8 bytes of auth data: the PASS secret
or zeros) or VRRPv3 (advert_int in centiseconds, a checksum over the IPv4 pseudo-header).
IPv4 only: an IPv6 group has no release and moves by plain preemption.

`advert` is pure; `send` needs CAP_NET_RAW (the keepalived task has it).
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from swarmvip.model import InstancePlan

IPPROTO_VRRP = 112
VRRP_TTL = 255  # RFC 5798 5.1.1.3
AUTH_NONE, AUTH_PASS = 0, 1
AUTH_LEN = 8


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def releasable(inst: InstancePlan) -> bool:
    """An IPv4 group (the only kind `advert` builds)."""
    return ipaddress.ip_address(inst.unicast_src).version == 4 and all(
        a.version == 4 for a in inst.addresses
    )


def advert(inst: InstancePlan, src: str, dst: str, auth: str | None = None) -> bytes:
    """The VRRP payload (no IP header) of a priority-0 advert for `inst` from src to dst."""
    if not releasable(inst):
        raise ValueError(f"group {inst.group}: a release is IPv4 only")
    vips = b"".join(a.ip.packed for a in inst.addresses)
    version = inst.timers.version
    if version == 3:
        interval = round(inst.timers.advert_int * 100) & 0x0FFF
        head = struct.pack("!BBBBH", 0x31, inst.vrid, 0, len(inst.addresses), interval)
        body = head + b"\0\0" + vips
        pseudo = struct.pack(
            "!4s4sBBH",
            ipaddress.IPv4Address(src).packed,
            ipaddress.IPv4Address(dst).packed,
            0,
            IPPROTO_VRRP,
            len(body),
        )
        return head + struct.pack("!H", checksum(pseudo + body)) + vips
    auth_type = AUTH_PASS if auth else AUTH_NONE
    auth_data = (auth or "").encode()[:AUTH_LEN].ljust(AUTH_LEN, b"\0")
    head = struct.pack(
        "!BBBBBB", 0x21, inst.vrid, 0, len(inst.addresses), auth_type, round(inst.timers.advert_int)
    )
    body = head + b"\0\0" + vips + auth_data
    return head + struct.pack("!H", checksum(body)) + vips + auth_data


def hand_over(inst: InstancePlan, dst: str, auth: str | None = None) -> None:
    """Send `inst`'s priority-0 advert from its VRRP source address to dst; OSError, or
    ValueError for a group that has no release (IPv6)."""
    send(advert(inst, inst.unicast_src, dst, auth), inst.unicast_src, dst)


def send(payload: bytes, src: str, dst: str) -> None:
    """One datagram of IP protocol 112 from src (an address of this host) to dst; OSError."""
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_VRRP) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, VRRP_TTL)
        sock.bind((src, 0))
        sock.sendto(payload, (dst, 0))

"""The pure parts of bench/switch_experiment: the gratuitous ARP that names another node, the
advert recognizer, and the per-way summary."""

from __future__ import annotations

import ipaddress
import struct

from bench.switch_experiment import garp_frame, is_advert_from, summary

OWN, HOLDER, VIP = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "10.251.0.100"


def test_the_gratuitous_arp_names_the_holder_but_comes_from_our_own_mac() -> None:
    frame = garp_frame(OWN, HOLDER, VIP)
    dst, src, ethertype = frame[:6], frame[6:12], struct.unpack("!H", frame[12:14])[0]
    htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", frame[14:22])
    sha, spa, tha, tpa = frame[22:28], frame[28:32], frame[32:38], frame[38:42]
    assert dst == b"\xff" * 6 and ethertype == 0x0806
    assert src == bytes.fromhex(OWN.replace(":", ""))  # no bridge learns the holder's MAC here
    assert (htype, ptype, hlen, plen, op) == (1, 0x0800, 6, 4, 1)
    assert sha == bytes.fromhex(HOLDER.replace(":", ""))  # what the clients learn
    assert spa == tpa == ipaddress.IPv4Address(VIP).packed and tha == b"\0" * 6
    assert len(frame) == 42


def _vrrp(src: str, priority: int) -> bytes:
    ip = bytes([0x45, 0, 0, 32, 0, 0, 0, 0, 255, 112, 0, 0])
    ip += ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address("10.251.0.11").packed
    return ip + bytes([0x31, 51, priority, 1, 0, 100, 0, 0]) + ipaddress.IPv4Address(VIP).packed


def test_an_advert_counts_only_from_that_node_and_above_priority_zero() -> None:
    assert is_advert_from(_vrrp("10.251.0.12", 254), "10.251.0.12")
    assert not is_advert_from(_vrrp("10.251.0.12", 0), "10.251.0.12")  # a release
    assert not is_advert_from(_vrrp("10.251.0.13", 254), "10.251.0.12")
    tcp = bytearray(_vrrp("10.251.0.12", 254))
    tcp[9] = 6
    assert not is_advert_from(bytes(tcp), "10.251.0.12")
    assert not is_advert_from(b"\x45\0", "10.251.0.12")


def test_the_summary_counts_each_way_apart() -> None:
    def mv(mode: str, failed: int) -> dict[str, object]:
        return {"mode": mode, "failed": failed, "requests": 100, "client_switches": 1,
                "two_masters_ms": 2.0, "quiet_to_switch_ms": 0.1, "quiet_ok": True}  # fmt: skip

    doc = {"moves": [mv("release", 1), mv("release", 0), mv("hold", 0), mv("hold", 0)]}
    assert summary(doc, "release")["failed"] == 1
    assert summary(doc, "release")["moves_with_a_failure"] == 1
    assert summary(doc, "hold")["failed"] == 0 and summary(doc, "hold")["requests"] == 200

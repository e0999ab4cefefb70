"""agent.adverts: which address released a group, from the VRRP adverts a node receives."""

from __future__ import annotations

import ipaddress
import socket
import struct

import pytest

from swarmvip.agent import adverts


def _ipv4(payload: bytes, src: str = "10.0.0.2", options: bytes = b"") -> bytes:
    ihl = (20 + len(options)) // 4
    head = struct.pack(
        "!BBHHHBBH4s4s",
        0x40 | ihl,
        0,
        20 + len(options) + len(payload),
        0,
        0,
        255,
        112,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address("10.0.0.1").packed,
    )
    return head + options + payload


def test_parse_reads_vrid_and_priority_of_v2_and_v3_adverts() -> None:
    v3 = bytes([0x31, 51, 0, 1, 0, 25, 0, 0]) + bytes(4)
    v2 = bytes([0x21, 52, 150, 1, 0, 1, 0, 0]) + bytes(12)
    assert adverts.parse(_ipv4(v3), with_ip_header=True) == (51, 0)
    assert adverts.parse(_ipv4(v2, options=bytes(4)), with_ip_header=True) == (52, 150)
    assert adverts.parse(v3, with_ip_header=False) == (51, 0)  # IPv6: the payload only


def test_parse_refuses_what_is_not_an_advert() -> None:
    assert adverts.parse(b"", with_ip_header=True) is None
    assert adverts.parse(_ipv4(bytes([0x32, 51, 0])), with_ip_header=True) is None  # type 2
    assert adverts.parse(_ipv4(bytes([0x11, 51, 0])), with_ip_header=True) is None  # version 1
    assert adverts.parse(_ipv4(bytes([0x31, 51])), with_ip_header=True) is None  # truncated


def test_a_release_is_remembered_within_the_window_only() -> None:
    seen = adverts.Releases()
    seen.saw(51, 100, "10.0.0.2", at=1.0)
    assert seen.released_by(51, now=1.1, within=1.0) is None  # an ordinary advert
    seen.saw(51, 0, "10.0.0.2", at=2.0)
    assert seen.released_by(51, now=2.5, within=1.0) == "10.0.0.2"
    assert seen.released_by(52, now=2.5, within=1.0) is None  # another VRID
    assert seen.released_by(51, now=3.5, within=1.0) is None  # too long ago


def test_a_releaser_that_advertises_again_is_forgotten_but_not_by_another_node() -> None:
    seen = adverts.Releases()
    seen.saw(51, 0, "10.0.0.2", at=1.0)
    seen.saw(51, 100, "10.0.0.3", at=1.1)  # another backup's advert
    assert seen.released_by(51, now=1.2, within=1.0) == "10.0.0.2"
    seen.saw(51, 200, "10.0.0.2", at=1.3)  # it advertises again: it did not let go
    assert seen.released_by(51, now=1.4, within=1.0) is None


def test_families_follow_the_vrrp_source_addresses() -> None:
    assert adverts.families_of(["10.0.0.1", "10.0.0.2"]) == {socket.AF_INET}
    assert adverts.families_of(["10.0.0.1", "fd00::1"]) == {socket.AF_INET, socket.AF_INET6}


def test_a_release_stays_known_as_sent_when_its_sender_advertises_again() -> None:
    """A planned move's old holder stays MASTER until its switch: its next regular advert
    must not make the lifted node forget that it released (session 11's reset)."""
    seen = adverts.Releases()
    seen.saw(51, 0, "10.0.0.2", at=1.0)
    seen.saw(51, 250, "10.0.0.2", at=1.004)  # its keepalived's regular advert
    assert seen.released_by(51, now=1.01, within=0.3) is None  # status: it did not let go
    assert seen.sent_release(51, "10.0.0.2", now=1.01, within=0.3) == pytest.approx(0.01)
    assert seen.sent_release(51, "10.0.0.3", now=1.01, within=0.3) is None  # another node
    assert seen.sent_release(52, "10.0.0.2", now=1.01, within=0.3) is None  # another VRID
    assert seen.sent_release(51, "10.0.0.2", now=1.5, within=0.3) is None  # too long ago

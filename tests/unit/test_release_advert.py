"""The priority-0 release: the advert's bytes (RFC 5798 / RFC 3768 layout and checksum), who
may release (fresh command, MASTER only), and the command's `release` on the wire."""

from __future__ import annotations

import dataclasses
import ipaddress
import struct
from pathlib import Path

import pytest

from swarmvip.agent import control
from swarmvip.agent.control import Control, Identity
from swarmvip.agent.release import advert, checksum, releasable
from swarmvip.model import Timers
from swarmvip.wire.command import Command, CommandError, Seq, decode_command, encode
from tests.agent.agentlab import instance

KEY = b"k" * 32


def _inst(version: int, advert_int: float, vips: tuple[str, ...] = ("10.0.0.100/24",)):  # type: ignore[no-untyped-def]
    inst = instance("10.0.0.1", ("10.0.0.2",), 150, advert=advert_int)
    return dataclasses.replace(
        inst,
        timers=Timers(advert_int=advert_int, version=version),  # type: ignore[arg-type]
        addresses=tuple(ipaddress.ip_interface(v) for v in vips),
    )


def test_rfc1071_checksum_of_a_known_vector() -> None:
    data = bytes.fromhex("0001f203f4f5f6f7")  # RFC 1071's example: sum ddf2, checksum 220d
    assert checksum(data) == 0x220D
    assert checksum(data + struct.pack("!H", checksum(data))) == 0


def test_v3_advert_has_priority_zero_centiseconds_and_a_pseudo_header_checksum() -> None:
    pkt = advert(_inst(3, 0.25, ("10.0.0.100/24", "10.0.0.101/24")), "10.0.0.1", "10.0.0.2")
    ver_type, vrid, prio, count, interval = struct.unpack("!BBBBH", pkt[:6])
    assert (ver_type, vrid, prio, count, interval) == (0x31, 51, 0, 2, 25)
    assert pkt[8:] == bytes([10, 0, 0, 100, 10, 0, 0, 101])
    pseudo = bytes([10, 0, 0, 1, 10, 0, 0, 2, 0, 112]) + struct.pack("!H", len(pkt))
    assert checksum(pseudo + pkt) == 0
    other = bytes([10, 0, 0, 1, 10, 0, 0, 3, 0, 112]) + struct.pack("!H", len(pkt))
    assert checksum(other + pkt) != 0  # the destination is in the sum


def test_v2_advert_carries_seconds_and_the_pass_secret_cut_to_8_bytes() -> None:
    pkt = advert(_inst(2, 1.0), "10.0.0.1", "10.0.0.2", auth="longsecret")
    assert struct.unpack("!BBBBBB", pkt[:6]) == (0x21, 51, 0, 1, 1, 1)
    assert pkt[8:12] == bytes([10, 0, 0, 100]) and pkt[12:] == b"longsecr"
    assert checksum(pkt) == 0
    plain = advert(_inst(2, 1.0), "10.0.0.1", "10.0.0.2")
    assert plain[4] == 0 and plain[12:] == b"\0" * 8 and checksum(plain) == 0


def test_ipv6_groups_are_not_releasable() -> None:
    inst = dataclasses.replace(
        _inst(3, 0.25, ("fd00::100/64",)), unicast_src="fd00::1", peers=("fd00::2",)
    )
    assert not releasable(inst) and releasable(_inst(3, 0.25))
    with pytest.raises(ValueError, match="IPv4 only"):
        advert(inst, "fd00::1", "fd00::2")


def test_release_survives_the_wire_and_a_bad_address_is_dropped() -> None:
    cmd = Command("stk", "id1", "spec1", Seq(5, 2), {}, {"web": "10.0.0.2"})
    assert decode_command(KEY, encode(KEY, cmd)) == cmd
    plain = Command("stk", "id1", "spec1", Seq(5, 2), {"web": 9})
    assert "release" not in plain.body()  # an older agent verifies the same body
    bad = dataclasses.replace(cmd, release={"web": "10.0.0.2\n  priority 255"})
    with pytest.raises(CommandError, match="not an IP address"):
        decode_command(KEY, encode(KEY, bad))


def test_only_a_fresh_command_releases_and_only_groups_held(tmp_path: Path) -> None:
    me = Identity("stk", "id1", "spec1", {"web": 150, "dns": 100})
    (tmp_path / "track").mkdir()
    ctl = Control(me, tmp_path / "state.json", tmp_path / "track")
    ctl.boot()
    cmd = Command("stk", "id1", "spec1", Seq(5, 2), {}, {"web": "10.0.0.2", "dns": "10.0.0.2"})
    reply = ctl.handle(cmd, {"web": "MASTER", "dns": "BACKUP"})
    assert reply.applied and ctl.releases == {"web": "10.0.0.2"}
    again = ctl.handle(cmd, {"web": "MASTER", "dns": "BACKUP"})
    assert again.applied and ctl.releases == {}  # a retry: answered, not released twice
    unknown = Command("stk", "id1", "spec1", Seq(5, 3), {}, {"nope": "10.0.0.2"})
    assert not ctl.handle(unknown, {}).applied and ctl.releases == {}
    assert control.releases(cmd, {}) == {}


def test_a_move_plan_carries_the_release_to_the_relay_and_into_the_command() -> None:
    from swarmvip.agent import sender
    from swarmvip.wire.relay import MovePlan, Step, Target, plan_from_json, plan_to_json

    hand = Target("id1", "10.0.0.1", 9816, "spec1", {}, {"web": "10.0.0.2"})
    plan = MovePlan("stk", 5, (Step((hand,)),))
    assert plan_from_json(plan_to_json(plan)) == plan

    class Wire:
        def __init__(self) -> None:
            self.sent: list[bytes] = []

        def send(self, address: str, port: int, data: bytes) -> None:
            self.sent.append(data)

        def recv(self, timeout: float) -> bytes | None:
            return None

    clock = iter(float(t) for t in range(100))
    wire = Wire()
    sender.run_step(plan, 1, KEY, wire, clock=lambda: next(clock), retry=10)
    assert decode_command(KEY, wire.sent[0]).release == {"web": "10.0.0.2"}

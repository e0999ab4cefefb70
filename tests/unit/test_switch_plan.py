"""The client switch of a planned move: its wire fields, the agent's rules and rule text, and
when the relay's plan asks for it (wire.command, wire.relay, agent.control, agent.arphold,
agent.handoff, plan.moves, wire.report)."""

from __future__ import annotations

import dataclasses
import ipaddress
import struct
import time

import pytest

from swarmvip.agent import adverts, arphold, control, handoff, planned
from swarmvip.plan.moves import move_plan
from swarmvip.spec.vipspec import TIMER_PRESETS
from swarmvip.wire.command import Command, Seq, decode_command, encode
from swarmvip.wire.relay import MovePlan, Step, Target, plan_from_json, plan_to_json
from swarmvip.wire.report import ControlReport, _control_doc, _control_from
from tests.unit.builders import THREE
from tests.unit.test_moves import agents, drained_three, plan_of, prio, ranked

KEY = b"k" * 32
VIP = "10.0.0.100"


def test_hold_and_switch_travel_and_leave_an_older_agents_body_alone() -> None:
    plain = Command("s", "n1", "h", Seq(5, 1), {"web": 254})
    assert "hold" not in plain.body() and "switch" not in plain.body()
    cmd = dataclasses.replace(plain, hold={"web": "10.0.0.1"}, switch=True)
    back = decode_command(KEY, encode(KEY, cmd))
    assert back.hold == {"web": "10.0.0.1"} and back.switch is True
    assert decode_command(KEY, encode(KEY, plain)).switch is False
    step = Step((Target("n1", "10.0.0.2", 9816, "h", {}, {}, {"web": "10.0.0.1"}, True),))
    again = plan_from_json(plan_to_json(MovePlan("s", 5, (step,))))
    assert again.steps[0].targets[0].hold == {"web": "10.0.0.1"}
    assert again.steps[0].targets[0].switch is True


def test_a_hold_of_an_unknown_group_is_refused() -> None:
    me = control.Identity("s", "n1", "h", {"web": 100})
    cmd = Command("s", "n1", "h", Seq(5, 1), {}, hold={"db": "10.0.0.1"})
    got = control.decide(me, control.Runtime(None, {"web": 100}), cmd)
    assert not got.applied and "unknown group(s) db" in (got.error or "")


def test_the_report_says_whether_an_agent_can_switch() -> None:
    assert "switch" not in (_control_doc(ControlReport(9816)) or {})
    doc = _control_doc(ControlReport(9816, switch=True))
    assert doc is not None and doc["switch"] is True
    assert _control_from(doc) == ControlReport(9816, switch=True)
    assert _control_from({"port": 9816}) == ControlReport(9816)  # an older agent


def test_the_hold_defuses_only_announcements_of_the_vips() -> None:
    text = arphold.hold_ruleset(51, "eth0", [VIP])
    assert "table netdev swarmvip_hold_51" in text
    assert 'hook egress device "eth0"' in text
    mark = f"meta mark != {arphold.MARK:#x}"  # the agent's own announcements pass
    probe = "counter arp saddr ip set 0.0.0.0"  # an ARP probe: no cache learns from it
    assert f"{mark} arp saddr ip {VIP} arp daddr ip {VIP} {probe}" in text  # gratuitous ARP
    assert f"{mark} arp operation reply arp saddr ip {VIP} {probe}" in text  # replies
    assert "drop" not in text  # keepalived would log ENOBUFS for each dropped one
    rules = [line.strip() for line in text.splitlines() if line.strip().endswith(probe)]
    assert len(rules) == 2  # its own requests (sender the VIP, target a client) still go out
    block = arphold.block_ruleset(51, "10.0.0.2")
    assert "table inet swarmvip_block_51" in block
    assert "ip saddr 10.0.0.2 ip protocol 112 drop" in block  # no name: images lack /etc/protocols


@pytest.mark.parametrize("bad", ["", 'eth0" ; flush ruleset', "a" * 16, "eth0\n}", "x/y"])
def test_an_interface_name_cannot_inject_rules(bad: str) -> None:
    with pytest.raises(ValueError):
        arphold.hold_ruleset(51, bad, [VIP])


def test_the_switch_frame_names_the_new_holder_from_our_own_mac() -> None:
    frame = arphold.garp_frame("02:00:00:00:00:0a", "02:00:00:00:00:0b", VIP)
    assert frame[6:12] == bytes.fromhex("02000000000a")  # Ethernet source: ours
    assert struct.unpack("!H", frame[12:14])[0] == 0x0806
    assert frame[22:28] == bytes.fromhex("02000000000b")  # what the clients learn
    ip = ipaddress.IPv4Address(VIP).packed
    assert frame[28:32] == frame[38:42] == ip
    arp = frame[14:]
    assert arphold.names(arp, frozenset({ip}), bytes.fromhex("02000000000b"))
    assert not arphold.names(arp, frozenset({ip}), bytes.fromhex("02000000000a"))


def _advert(src: str, priority: int) -> bytes:
    head = bytes([0x45, 0, 0, 32, 0, 0, 0, 0, 255, 112, 0, 0])
    head += ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address("10.0.0.1").packed
    return head + bytes([0x31, 51, priority, 1, 0, 100, 0, 0]) + ipaddress.IPv4Address(VIP).packed


def test_only_a_masters_advert_from_that_node_counts() -> None:
    assert arphold.advert_from(_advert("10.0.0.2", 254), "10.0.0.2")
    assert not arphold.advert_from(_advert("10.0.0.2", 0), "10.0.0.2")  # a release
    assert not arphold.advert_from(_advert("10.0.0.3", 254), "10.0.0.2")
    assert not arphold.advert_from(b"\x45", "10.0.0.2")


def test_a_hold_outlives_a_takeover_only_on_the_holders_release() -> None:
    now = [100.0]
    holds = handoff.Holds(clock=lambda: now[0])
    holds.add("web", handoff.Hold("10.0.0.1", "eth0", deadline=105.0))
    assert holds.on_master("web", None)  # no release: it preempted by itself
    assert holds.on_master("web", "10.0.0.9")  # someone else's release
    assert not holds.on_master("web", "10.0.0.1")
    assert holds.next_deadline() == pytest.approx(100.0 + handoff.SWITCH_MAX)
    assert holds.due() == []
    now[0] += handoff.SWITCH_MAX
    assert holds.due() == ["web"]
    assert holds.pop("web") is not None and holds.next_deadline() is None


def _drain_plan(switch: dict[str, bool]) -> tuple[Step, Step]:
    before = plan_of(*THREE)
    holder = ranked(before)[0]
    drained = drained_three(holder)
    after = plan_of(*drained)
    ids = {n.hostname: n.node_id for n in after.nodes}
    running = {h: prio(before, h) for h in ids}
    runtimes = {
        k: dataclasses.replace(a, switch=switch.get(a.node_id, False))
        for k, a in agents(after, running).items()
    }
    mp = move_plan(after, runtimes, {"web": ids[holder]}, frozenset(ids.values()), 7)
    assert mp is not None
    return mp.steps[0], mp.steps[1]


def test_the_plan_asks_for_a_switch_only_when_both_agents_can() -> None:
    plan = plan_of(*THREE)
    every = {n.node_id: True for n in plan.nodes}
    lift, hand = _drain_plan(every)
    (lifted,) = lift.targets
    releasing = next(t for t in hand.targets if t.release)
    assert lifted.hold == {"web": releasing.address} and releasing.switch
    for one in plan.nodes:  # either end unable: today's release
        lift, hand = _drain_plan({**every, one.node_id: False})
        releasing = next(t for t in hand.targets if t.release)
        if one.node_id in (lift.targets[0].node_id, releasing.node_id):
            assert not lift.targets[0].hold and not releasing.switch


class _FakeSocket:
    def __enter__(self) -> _FakeSocket:
        return self

    def __exit__(self, *_: object) -> None:
        return None


class _FakeAnnouncer(_FakeSocket):
    def __init__(self, dev: str, holder: str, vips: list[str]) -> None:
        self.holder = holder

    def send(self) -> None:
        return None


def _switch(
    monkeypatch: pytest.MonkeyPatch, advert_mac: str | None, timers: str = "default"
) -> tuple[object, list[str]]:
    """handoff.switch_clients with nft, the sockets, the release and the quiet wait faked:
    (what it returned, what it did, in order; the quiet wait as 'switch' and its budget)."""
    did: list[str] = []
    monkeypatch.setattr(arphold, "nft", lambda text: did.append(f"nft {text}"))
    monkeypatch.setattr(arphold, "delete", lambda family, table: did.append(f"delete {table}"))
    monkeypatch.setattr(arphold, "advert_socket", lambda dev: _FakeSocket())
    monkeypatch.setattr(arphold, "wait_advert", lambda sock, src, timeout: advert_mac)
    monkeypatch.setattr(arphold, "Announcer", _FakeAnnouncer)
    monkeypatch.setattr(handoff.release, "hand_over", lambda *a: did.append("release"))

    def quiet(dev: str, vips: frozenset[str], budget: float, then: object) -> None:
        did.append("switch")
        did.append(f"budget {budget:g}")

    monkeypatch.setattr(handoff.quiet, "wait_quiet", quiet)
    monkeypatch.setattr(handoff.quiet, "describe", lambda when: "now")
    inst = plan_of(*THREE).nodes[0].instances[0]
    inst = dataclasses.replace(inst, timers=TIMER_PRESETS[timers])
    return handoff.switch_clients(inst, "eth0", "eth0", "10.213.0.12", None), did


def test_the_old_holder_holds_its_own_gratuitous_arp_from_its_switch_until_it_yields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between its switch and its yield the old holder still has the VIP: a gratuitous ARP of
    its keepalived then (garp_master_delay's second set) took the clients back for 40 ms in
    bench/results/planned.md (a cycle of 4 moves). Its own gratuitous ARP is held from the
    start (one nft batch with the block), not its replies, and the hold outlives the switch:
    the agent ends it when it leaves MASTER, or at yield_max."""
    (said, own), did = _switch(monkeypatch, "02:42:0a:d5:00:0c")
    first = did[0]
    assert first.startswith("nft ") and "swarmvip_block_" in first and "swarmvip_hold_" in first
    assert "arp operation reply" not in first  # its replies still answer until it yields
    vrid = plan_of(*THREE).nodes[0].instances[0].vrid
    assert did[1:] == [
        "release",
        "switch",
        "budget 0.125",
        f"delete {arphold.block_table(vrid)}",
        "release",
    ]
    assert isinstance(own, handoff.Hold) and own.own and own.holder == "10.213.0.12"
    assert "switched web's clients" in said
    holds = handoff.Holds()
    holds.add("web", own)
    assert holds.own("web") and not holds.own("db")


@pytest.mark.parametrize(
    ("timers", "budget"), [("compat", 0.2), ("default", 0.125), ("fast", 0.05)]
)
def test_the_quiet_wait_of_a_switch_fits_two_holders_in_one_advert_interval(
    monkeypatch: pytest.MonkeyPatch, timers: str, budget: float
) -> None:
    """Both nodes have the VIP while the old holder waits: with the full 0.2 s budget, the
    moves that found no quiet instant had 263-276 ms of two holders at `default` (advert
    0.25 s; bench/results/planned.md, run 12). Half an advert interval, 0.2 s at most."""
    _, did = _switch(monkeypatch, "02:42:0a:d5:00:0c", timers)
    assert f"budget {budget:g}" in did


def test_without_a_switch_the_old_holder_lifts_its_own_hold_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (said, own), did = _switch(monkeypatch, None)
    assert own is None and "no advert from it" in said
    assert any(d.startswith("delete swarmvip_hold_") for d in did)
    assert "switch" not in did


def test_the_old_holders_own_hold_keeps_replies() -> None:
    text = arphold.hold_ruleset(51, "eth0", [VIP], replies=False)
    assert f"arp saddr ip {VIP} arp daddr ip {VIP}" in text
    assert "arp operation reply" not in text


def test_a_holds_counters_say_how_many_announcements_it_defused() -> None:
    listing = (
        "table netdev swarmvip_hold_51 {\n\tchain egress {\n"
        "\t\tmeta mark != 0x53564950 arp saddr ip 10.0.0.100 arp daddr ip 10.0.0.100"
        " counter packets 3 bytes 126 arp saddr ip set 0.0.0.0\n"
        "\t\tmeta mark != 0x53564950 arp operation reply arp saddr ip 10.0.0.100"
        " counter packets 1 bytes 42 arp saddr ip set 0.0.0.0\n\t}\n}\n"
    )
    assert arphold.held_packets(listing) == 4
    assert arphold.held_packets("") == 0


def _moves(monkeypatch: pytest.MonkeyPatch, master: bool) -> tuple[planned.PlannedMoves, list]:
    """agent.planned's PlannedMoves over one group, nft faked: (it, the holds it ended)."""
    ended: list[tuple[str, bool]] = []
    monkeypatch.setattr(
        handoff, "end_hold", lambda inst, hold, m: ended.append((hold.holder, m)) or "lifted"
    )
    inst = plan_of(*THREE).nodes[0].instances[0]
    moves = planned.PlannedMoves([inst], adverts.Releases(), lambda e: None, lambda g: master)
    return moves, ended


def test_the_old_holders_own_hold_ends_when_it_yields_a_lifted_nodes_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moves, ended = _moves(monkeypatch, master=False)
    moves.holds.add("web", handoff.Hold("10.0.0.2", "eth0", time.monotonic() + 60))
    moves.on_left_master("web", "BACKUP")  # a lifted node's hold: not this rule's to end
    assert ended == [] and "web" in moves.holds.active
    moves.holds.active.clear()
    moves.holds.add("web", handoff.Hold("10.0.0.2", "eth0", time.monotonic() + 60, own=True))
    moves.on_left_master("web", "BACKUP")
    assert ended == [("10.0.0.2", False)] and moves.holds.active == {}


def test_an_old_holder_still_master_at_its_deadline_announces_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moves, ended = _moves(monkeypatch, master=True)
    moves.holds.add("web", handoff.Hold("10.0.0.2", "eth0", time.monotonic() - 1, own=True))
    moves.end_due()
    assert ended == [("10.0.0.2", True)]  # as MASTER: end_hold announces the VIPs here


def test_a_lifted_nodes_hold_goes_on_when_the_holder_advertised_after_its_release(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The old holder's regular advert between its release and the takeover's look at it:
    the hold waits for the switch (it ended at once, and keepalived's own announcement
    moved the clients mid-connection, in session 11's benchmark)."""
    moves, ended = _moves(monkeypatch, master=True)
    holder, vrid = "10.0.0.2", moves.instances["web"].vrid
    moves.holds.add("web", handoff.Hold(holder, "eth0", time.monotonic() + 60))
    now = time.monotonic()
    moves.releases.saw(vrid, 0, holder, now - 0.01)
    moves.releases.saw(vrid, 250, holder, now - 0.005)
    moves.on_master("web")
    assert ended == [] and "web" in moves.holds.active
    moves.holds.active.clear()  # no release at all: the hold ends at the takeover
    moves.holds.add("web", handoff.Hold("10.0.0.9", "eth0", time.monotonic() + 60))
    moves.on_master("web")
    assert ended == [("10.0.0.9", True)]


def test_the_stray_rule_sends_back_only_connections_the_lifted_node_never_saw() -> None:
    macs = ("02:42:0A:D5:00:0D", "02:42:0A:D5:00:0C")  # this node's, the old holder's
    text = arphold.stray_ruleset(51, "eth0", [VIP], macs, 3.25)
    assert "table netdev swarmvip_stray_51" in text and 'hook ingress device "eth0"' in text
    assert f"elements = {{ {VIP} timeout 3250ms }}" in text  # the window ends by itself
    assert "tcp flags & (syn | ack) == syn add @seen { ip saddr . tcp sport }" in text
    sent = (
        "ip daddr @window tcp flags & syn == 0 ether saddr != 02:42:0a:d5:00:0c"
        " ip saddr . tcp sport != @seen counter ether saddr set 02:42:0a:d5:00:0d"
        ' ether daddr set 02:42:0a:d5:00:0c fwd to "eth0"'
    )
    # never what the old holder itself sends (no loop); from this node's MAC, so no bridge
    # learns the client's on this node's port
    assert sent in text
    assert "delete table netdev swarmvip_stray_51" in text.splitlines()[1]  # replaces a leftover
    shorten = arphold.stray_shorten(51, [VIP], 0.5)
    assert shorten.splitlines() == [
        "flush set netdev swarmvip_stray_51 window",
        f"add element netdev swarmvip_stray_51 window {{ {VIP} timeout 500ms }}",
    ]


@pytest.mark.parametrize(
    ("mac", "dev", "vips"),
    [("02:42:0a:d5:00", "eth0", [VIP]), ("x" * 17, "eth0", [VIP]),
     ("02:42:0a:d5:00:0c", 'eth0" ; flush ruleset', [VIP]),
     ("02:42:0a:d5:00:0c", "eth0", ["10.0.0.1 timeout 1s }"]),
     ("02:42:0a:d5:00:0c", "eth0", [])],
)  # fmt: skip
def test_the_stray_rule_refuses_what_could_inject(mac: str, dev: str, vips: list[str]) -> None:
    with pytest.raises(ValueError):
        arphold.stray_ruleset(51, dev, vips, ("02:42:0a:d5:00:0d", mac), 1.0)
    with pytest.raises(ValueError):
        arphold.stray_ruleset(51, dev, vips, (mac, "02:42:0a:d5:00:0d"), 1.0)


ARP = """IP address       HW type     Flags       HW address            Mask     Device
10.213.0.12      0x1         0x2         02:42:0a:d5:00:0c     *        eth0
10.213.0.13      0x1         0x0         00:00:00:00:00:00     *        eth0
10.213.0.14      0x1         0x0         02:42:0a:d5:00:0e     *        eth0
"""


def test_the_old_holders_mac_comes_from_a_complete_arp_entry_only() -> None:
    assert arphold.neighbour_mac("10.213.0.12", ARP) == "02:42:0a:d5:00:0c"
    assert arphold.neighbour_mac("10.213.0.13", ARP) is None  # incomplete
    assert arphold.neighbour_mac("10.213.0.14", ARP) is None  # not complete either
    assert arphold.neighbour_mac("10.213.0.1", ARP) is None
    assert arphold.neighbour_mac("10.213.0.1", "") is None


def test_a_lift_sends_strays_back_when_it_knows_the_holders_mac_and_the_switch_ends_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    applied: list[str] = []
    monkeypatch.setattr(arphold, "nft", applied.append)
    monkeypatch.setattr(arphold, "held", lambda vrid: 5)
    monkeypatch.setattr(arphold, "counted", lambda table: 3 if "stray" in table else None)
    monkeypatch.setattr(arphold, "SwitchWatcher", _no_watcher)
    monkeypatch.setattr(arphold, "announce", lambda dev, mac, vips: None)
    monkeypatch.setattr(arphold, "own_mac", lambda dev: "02:42:0a:d5:00:0d")
    inst = plan_of(*THREE).nodes[0].instances[0]
    monkeypatch.setattr(arphold, "mac_of", lambda address: None)
    hold = handoff.start_hold(inst, "eth0", "10.213.0.12", lambda: None)
    assert not hold.strays and "swarmvip_stray_" not in applied[-1]
    monkeypatch.setattr(arphold, "mac_of", lambda address: "02:42:0a:d5:00:0c")
    hold = handoff.start_hold(inst, "eth0", "10.213.0.12", lambda: None)
    assert hold.strays and "swarmvip_hold_" in applied[-1] and "swarmvip_stray_" in applied[-1]
    window = f"timeout {round(handoff.stray_window(inst) * 1000)}ms"
    assert window in applied[-1]
    said = handoff.end_hold(inst, hold, master=True)
    ended = applied[-1]  # one batch: the hold's table goes, the stray window shortens
    assert ended.startswith(f"delete table netdev {arphold.hold_table(inst.vrid)}\n")
    assert f"timeout {round(handoff.STRAY_AFTER * 1000)}ms" in ended
    assert (
        said
        == "hold lifted (5 held back; 3 stray packets sent back to 10.213.0.12), VIPs announced"
    )


def _no_watcher(*args: object) -> None:
    raise OSError("no packet socket in a unit test")


def test_a_lift_whose_stray_rule_nft_refuses_still_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stray rule is a margin: when nft refuses the batch with it, the hold goes alone."""
    applied: list[str] = []

    def nft(ruleset: str) -> None:
        if "swarmvip_stray_" in ruleset:
            raise arphold.HoldError("nft: Error: Could not process rule")
        applied.append(ruleset)

    monkeypatch.setattr(arphold, "nft", nft)
    monkeypatch.setattr(arphold, "SwitchWatcher", _no_watcher)
    monkeypatch.setattr(arphold, "own_mac", lambda dev: "02:42:0a:d5:00:0d")
    monkeypatch.setattr(arphold, "mac_of", lambda address: "02:42:0a:d5:00:0c")
    inst = plan_of(*THREE).nodes[0].instances[0]
    hold = handoff.start_hold(inst, "eth0", "10.213.0.12", lambda: None)
    assert not hold.strays
    assert len(applied) == 1 and "swarmvip_hold_" in applied[0]

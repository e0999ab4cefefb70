"""The runtime priority channel, agent side: decide, deltas, the boot rule, persistence, the
listener on loopback, the state fold and the report's "control" key."""

from __future__ import annotations

import dataclasses
import json
import socket
from pathlib import Path

import pytest

from swarmvip.agent import control, state
from swarmvip.agent.control import Control, Identity, Runtime, boot, decide, deltas
from swarmvip.wire.command import Command, CommandError, Reply, Seq, decode_reply, encode
from swarmvip.wire.report import ControlReport, parse_report, to_line
from tests.unit.test_agent_report import REPORT

ME = Identity("stk", "id1", "spec1", {"web": 150, "dns": 100})
START = Runtime(None, {"web": 150, "dns": 100})


def _cmd(
    seq: tuple[int, int],
    stack: str = "stk",
    node: str = "id1",
    spec: str = "spec1",
    **priorities: int,
) -> Command:
    return Command(stack, node, spec, Seq(*seq), priorities)


def test_first_command_applies_and_merges() -> None:
    d = decide(ME, START, _cmd((5, 1), web=200))
    assert d.applied and d.changed and d.error is None
    assert d.runtime == Runtime(Seq(5, 1), {"web": 200, "dns": 100})
    assert deltas(ME, d.runtime) == {"web": 50, "dns": 0}


def test_lower_priority_gives_a_negative_delta() -> None:
    assert deltas(ME, Runtime(None, {"web": 1, "dns": 254})) == {"web": -149, "dns": 154}


@pytest.mark.parametrize(
    ("cmd", "why"),
    [
        (_cmd((9, 1), stack="other", web=200), "stack"),
        (_cmd((9, 1), node="id2", web=200), "node"),
        (_cmd((9, 1), spec="spec0", web=200), "spec"),
        (_cmd((9, 1), mail=200), "unknown group"),
        (_cmd((4, 9), web=200), "stale seq"),
        (_cmd((5, 0), web=200), "stale seq"),
        (_cmd((5, 1), web=201), "already applied with other priorities"),
    ],
)
def test_refusals_change_nothing(cmd: Command, why: str) -> None:
    now = Runtime(Seq(5, 1), {"web": 200, "dns": 100})
    d = decide(ME, now, cmd)
    assert not d.applied and not d.changed and d.runtime == now
    assert d.error is not None and why in d.error


def test_no_spec_refuses_everything() -> None:
    d = decide(Identity("stk", "id1", "", {"web": 150}), START, _cmd((1, 1), spec="x", web=1))
    assert not d.applied and "spec" in (d.error or "")


def test_an_identical_repeat_is_a_retry_not_a_reapply() -> None:
    now = Runtime(Seq(5, 1), {"web": 200, "dns": 100})
    d = decide(ME, now, _cmd((5, 1), web=200))
    assert d.applied and not d.changed and d.runtime == now
    # the same seq naming only what is in force (an `until` poll of a two-group command) too
    assert decide(ME, now, _cmd((5, 1))).applied


def test_a_higher_step_or_index_applies() -> None:
    now = Runtime(Seq(5, 1), {"web": 200, "dns": 100})
    assert decide(ME, now, _cmd((5, 2), web=200)).changed
    assert decide(ME, now, _cmd((6, 0), dns=1)).runtime.priorities == {"web": 200, "dns": 1}


def test_boot_rule() -> None:
    saved = {"seq": [7, 2], "spec": "spec1", "priorities": {"web": 120, "gone": 5}}
    assert boot(ME, None) == START
    assert boot(ME, saved) == Runtime(Seq(7, 2), {"web": 120, "dns": 100})
    assert boot(ME, {**saved, "spec": "old"}) == Runtime(Seq(7, 2), {"web": 150, "dns": 100})
    assert boot(ME, {**saved, "seq": None}) == Runtime(None, {"web": 120, "dns": 100})
    with pytest.raises(CommandError):
        boot(ME, {**saved, "seq": "x"})


def test_a_redeployed_stack_does_not_inherit_the_removed_ones_priorities() -> None:
    """`swarmvip rm` leaves the node's volume; the same spec deployed again gets new services,
    and their agents boot with their configs' priorities (the seq floor stays)."""
    me = dataclasses.replace(ME, service="svc-new")
    saved = {"seq": [7, 2], "spec": "spec1", "service": "svc-old", "priorities": {"web": 1}}
    assert boot(me, saved) == Runtime(Seq(7, 2), {"web": 150, "dns": 100})
    assert boot(me, {**saved, "service": "svc-new"}).priorities["web"] == 1


def _track(tmp_path: Path, group: str) -> str:
    return (tmp_path / "track" / f"{group}..priority").read_text()


@pytest.fixture
def ctl(tmp_path: Path) -> Control:
    (tmp_path / "track").mkdir()
    return Control(ME, tmp_path / "state" / "stk.json", tmp_path / "track")


def test_control_applies_persists_and_answers(ctl: Control, tmp_path: Path) -> None:
    assert ctl.boot() == START
    assert _track(tmp_path, "web") == "0\n" and _track(tmp_path, "dns") == "0\n"
    assert not (tmp_path / "state" / "stk.json").exists()
    reply = ctl.handle(_cmd((3, 1), web=200), {"web": "BACKUP", "dns": "MASTER"})
    assert reply == Reply(
        "stk", "id1", Seq(3, 1), True, {"web": 200, "dns": 100}, {"web": "BACKUP", "dns": "MASTER"}
    )
    assert _track(tmp_path, "web") == "50\n" and _track(tmp_path, "dns") == "0\n"
    saved = json.loads((tmp_path / "state" / "stk.json").read_text())
    assert saved == {
        "seq": [3, 1],
        "spec": "spec1",
        "service": "",
        "priorities": {"dns": 100, "web": 200},
    }
    assert ctl.event() == state.PrioritiesChanged((("dns", 100), ("web", 200)), (3, 1))
    stale = ctl.handle(_cmd((3, 0), web=1), {})
    assert not stale.applied and stale.priorities == {"web": 200, "dns": 100}
    assert _track(tmp_path, "web") == "50\n"


def test_boot_keeps_same_spec_and_resets_a_new_one(ctl: Control, tmp_path: Path) -> None:
    ctl.boot()
    ctl.handle(_cmd((3, 1), web=200), {})
    again = Control(ME, ctl.state_file, ctl.track_dir)
    assert again.boot() == Runtime(Seq(3, 1), {"web": 200, "dns": 100})
    assert _track(tmp_path, "web") == "50\n"
    new = Control(Identity("stk", "id1", "spec2", ME.configured), ctl.state_file, ctl.track_dir)
    assert new.boot() == Runtime(Seq(3, 1), {"web": 150, "dns": 100})
    assert _track(tmp_path, "web") == "0\n"
    saved = json.loads(ctl.state_file.read_text())
    assert saved["spec"] == "spec2" and saved["seq"] == [3, 1]
    # back to the old spec (a rollback): the priorities saved for it are gone
    assert Control(ME, ctl.state_file, ctl.track_dir).boot() == Runtime(Seq(3, 1), START.priorities)


def test_a_corrupt_state_file_boots_the_config_and_says_so(ctl: Control, tmp_path: Path) -> None:
    ctl.state_file.parent.mkdir()
    ctl.state_file.write_text("{nope")
    with pytest.raises(CommandError, match="ignored"):
        ctl.boot()
    assert ctl.runtime == START and _track(tmp_path, "web") == "0\n"


def test_an_unwritable_state_dir_refuses_the_command(ctl: Control, tmp_path: Path) -> None:
    ctl.boot()
    ctl.state_file.parent.write_text("a file, not a directory")
    reply = ctl.handle(_cmd((3, 1), web=200), {})
    assert not reply.applied and "cannot apply" in (reply.error or "")
    assert ctl.runtime == START and _track(tmp_path, "web") == "0\n"


def test_fold_sets_running_priorities_and_control() -> None:
    inst = state.InstanceState("web", 51, 150, ())
    s = state.AgentState("stk", "h", "id1", (inst,))
    assert state.to_report(s, "state", 0.0, 1, 10.0, "v").control is None
    s = state.fold(s, state.ControlListening(9817))
    s = state.fold(s, state.PrioritiesChanged((("web", 200),), (3, 1)))
    report = state.to_report(s, "state", 0.0, 1, 10.0, "v")
    assert report.instances[0].priority == 200
    assert report.control == ControlReport(9817, (3, 1))
    assert state.fold(s, state.ControlListening(None)).control_port is None


def test_report_control_round_trip_and_old_lines() -> None:
    with_control = dataclasses.replace(REPORT, control=ControlReport(9816, (3, 1), 2))
    line = to_line(with_control)
    assert json.loads(line)["control"] == {"port": 9816, "seq": [3, 1], "drops": 2}
    assert parse_report(line) == with_control
    assert json.loads(to_line(REPORT))["control"] is None
    doc = json.loads(to_line(REPORT))
    del doc["control"]  # an agent before the channel
    assert parse_report(json.dumps(doc)) == REPORT
    doc["control"] = {"port": 9816, "seq": None}
    assert parse_report(json.dumps(doc)) == dataclasses.replace(REPORT, control=ControlReport(9816))


def test_bind_takes_the_next_free_port() -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        socks, used = control.bind(("127.0.0.1",), port, span=3)
        for sock in socks:
            sock.close()
        assert used in (port + 1, port + 2)
        with pytest.raises(OSError, match="all in use"):
            control.bind(("127.0.0.1",), port, span=1)
    finally:
        taken.close()
    with pytest.raises(OSError):  # an address not on this host: no port search, an error
        control.bind(("192.0.2.1",), port)


def test_listener_on_a_real_port() -> None:
    key = b"k" * 32
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    bound: list[int | None] = []
    stats = control.Stats()

    def ask(cmd: Command) -> Reply:
        return Reply(cmd.stack, cmd.node_id, cmd.seq, True, {"web": 200}, {"web": "MASTER"})

    listener = control.Listener(("127.0.0.1",), port, key, ask, bound.append, stats)
    listener.start()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(2.0)
    try:
        while not bound:
            listener.join(0.01)
        assert bound == [port]
        client.sendto(encode(b"x" * 32, _cmd((1, 1), web=200)), ("127.0.0.1", port))
        client.sendto(b"garbage", ("127.0.0.1", port))
        client.sendto(encode(key, _cmd((1, 1), web=200)), ("127.0.0.1", port))
        reply = decode_reply(key, client.recv(9000))  # only the authentic one is answered
        assert reply.applied and reply.states == {"web": "MASTER"}
        assert stats.drops == 2
    finally:
        client.close()

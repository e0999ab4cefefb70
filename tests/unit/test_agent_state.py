"""The agent's pure state fold, report projection and notify-FIFO parsing."""

from __future__ import annotations

import ipaddress

from swarmvip.agent import state
from swarmvip.model import (
    CheckKind,
    HealthCheck,
    InstancePlan,
    NodePlan,
    NotifyHooks,
    Preemption,
    Timers,
)
from swarmvip.wire.report import parse_report, to_line


def _node() -> NodePlan:
    inst = InstancePlan(
        group="web",
        vrid=51,
        priority=150,
        preemption=Preemption.PREFERRED,
        preempt_delay=0.0,
        timers=Timers(),
        unicast_src="10.0.0.1",
        peers=("10.0.0.2",),
        addresses=tuple(ipaddress.ip_interface(a) for a in ("10.0.0.100/24", "10.0.0.101/24")),
        checks=(HealthCheck(name="http", kind=CheckKind.TCP, target="127.0.0.1:80"),),
        notify=NotifyHooks(),
        auth_secret=None,
    )
    return NodePlan("id1", "n1", None, "10.0.0.1", (inst,))


def _fold(*events: state.Event) -> state.AgentState:
    s = state.initial("stk", _node(), "host1")
    for ev in events:
        s = state.fold(s, ev)
    return s


def test_initial_is_unknown_and_starting() -> None:
    s = _fold()
    assert s.keepalived == "starting"
    assert s.instances[0].vrrp_state == "UNKNOWN"
    assert s.instances[0].checks == (("http", "unknown"),)


def test_vrrp_and_addresses_make_a_holder() -> None:
    s = _fold(
        state.InterfaceFound("eth0"),
        state.VrrpChanged("web", "MASTER"),
        state.AddressesObserved(frozenset({"10.0.0.1", "10.0.0.100", "10.0.0.101"})),
    )
    r = state.to_report(s, "state", 1.0, 1, 2.0, "x").instances[0]
    assert (r.vrrp_state, r.holds_vip) == ("MASTER", True)
    assert r.vips_present == ("10.0.0.100/24", "10.0.0.101/24")


def test_partial_vips_are_not_holding() -> None:
    s = _fold(state.AddressesObserved(frozenset({"10.0.0.100"})))
    r = state.to_report(s, "state", 1.0, 1, 2.0, "x").instances[0]
    assert r.vips_present == ("10.0.0.100/24",) and not r.holds_vip


def test_unknown_group_is_ignored() -> None:
    assert _fold(state.VrrpChanged("other", "MASTER")) == _fold()


def test_check_changes() -> None:
    s = _fold(state.CheckChanged("web", "http", False))
    assert s.instances[0].checks == (("http", "failing"),)
    s = state.fold(s, state.CheckChanged("web", "http", True))
    assert s.instances[0].checks == (("http", "ok"),)


def test_keepalived_exit_stops_instances_and_keeps_reason() -> None:
    s = _fold(state.VrrpChanged("web", "MASTER"), state.KeepalivedChanged("exited", "boom"))
    assert s.keepalived == "exited" and s.reason == "boom"
    assert s.instances[0].vrrp_state == "STOP"
    s = state.fold(s, state.KeepalivedChanged("running"))
    assert s.reason is None


def test_fault_then_interface_clears_reason() -> None:
    s = _fold(state.Fault("no interface"))
    assert s.reason == "no interface"
    assert state.fold(s, state.InterfaceFound("eth0")).reason is None


def test_entered_states() -> None:
    old = _fold()
    new = state.fold(old, state.VrrpChanged("web", "BACKUP"))
    assert state.entered_states(old, new) == (("web", "BACKUP"),)
    assert state.entered_states(new, new) == ()


def test_parse_notify_line() -> None:
    assert state.parse_notify_line('INSTANCE "web" MASTER 150\n') == state.VrrpChanged(
        "web", "MASTER"
    )
    assert state.parse_notify_line("INSTANCE web FAULT 0") == state.VrrpChanged("web", "FAULT")
    assert state.parse_notify_line('GROUP "g" MASTER 0') is None
    assert state.parse_notify_line('INSTANCE "web" MASTER_RX_LOWER_PRI 150') is None
    assert state.parse_notify_line("garbage") is None


def _after(*events: state.Event) -> tuple[str, float] | None:
    return _fold(*events).instances[0].after_release


def test_a_takeover_on_a_release_is_reported_until_the_instance_leaves_master() -> None:
    released = state.VrrpChanged("web", "MASTER", after_release=("10.0.0.2", 5.0))
    assert _after(released) == ("10.0.0.2", 5.0)
    line = to_line(state.to_report(_fold(released), "state", 6.0, 1, 2.0, "x"))
    assert parse_report(line).instances[0].after_release == ("10.0.0.2", 5.0)  # type: ignore[union-attr]
    # MASTER again (keepalived re-notifies): still the same takeover
    assert _after(released, state.VrrpChanged("web", "MASTER")) == ("10.0.0.2", 5.0)
    assert _after(released, state.VrrpChanged("web", "BACKUP")) is None
    assert _after(released, state.KeepalivedChanged("exited", "x")) is None
    # a takeover because the master went silent names nobody
    silent = (state.VrrpChanged("web", "BACKUP"), state.VrrpChanged("web", "MASTER"))
    assert _after(released, *silent) is None
    assert '"after_release"' not in to_line(state.to_report(_fold(*silent), "state", 1, 1, 2, "x"))

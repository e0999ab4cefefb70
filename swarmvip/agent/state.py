"""The agent's view of its node as a PURE fold: `fold(state, event) -> state`; no I/O here.

Events come from the supervisor (keepalived started/exited, interface found or missing), the
notify FIFO (VRRP state per instance), the netlink watcher (addresses on the interface) and the
health-check runners, the runtime priority channel (agent.control: its listener's port, the
priorities in force and the last applied command's seq), and helper-thread faults (a check, the
watcher or a hook hit an unexpected error, or a helper thread died and was restarted).
`to_report` projects a state into a `Report`; `entered_states` tells which instances entered a
new VRRP state, for the notify hooks.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace

from swarmvip.model import IPInterface, NodePlan
from swarmvip.wire.report import ControlReport, InstanceReport, Kind, Report

VRRP_STATES = ("MASTER", "BACKUP", "FAULT", "STOP")
_FIFO_LINE = re.compile(r'^INSTANCE\s+"?([^"\s]+)"?\s+([A-Z_]+)\s+(\d+)\s*$')


@dataclass(frozen=True, slots=True)
class InstanceState:
    group: str
    vrid: int
    priority: int  # the one it runs with: configured + runtime delta (before check weights)
    vips: tuple[IPInterface, ...]
    vrrp_state: str = "UNKNOWN"
    checks: tuple[tuple[str, str], ...] = ()
    # MASTER after a release: (the releasing address, when); see VrrpChanged.after_release
    after_release: tuple[str, float] | None = None


@dataclass(frozen=True, slots=True)
class AgentState:
    stack: str
    node: str
    node_id: str
    instances: tuple[InstanceState, ...]
    interface: str | None = None
    keepalived: str = "starting"
    present: frozenset[str] = frozenset()  # addresses (no prefix) on the interface
    reason: str | None = None
    faults: tuple[tuple[str, str], ...] = ()  # (component, message), sorted: agent faults
    control_port: int | None = None  # the runtime priority listener's port; None: no listener
    control_seq: tuple[int, int] | None = None  # the last applied command's seq
    control_switch: bool = False  # it can hold and switch (agent.arphold)


# --- events -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class InterfaceFound:
    name: str


@dataclass(frozen=True, slots=True)
class Fault:
    reason: str


@dataclass(frozen=True, slots=True)
class KeepalivedChanged:
    status: str  # starting | running | exited | stopped
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class VrrpChanged:
    group: str
    state: str
    priority: int | None = field(default=None, compare=False)  # keepalived's, for the hooks
    # entering MASTER: (the address whose priority-0 advert it took over on, wall time);
    # None: it took over because the master went silent (agent.adverts)
    after_release: tuple[str, float] | None = None


@dataclass(frozen=True, slots=True)
class AddressesObserved:
    addresses: frozenset[str]


@dataclass(frozen=True, slots=True)
class CheckChanged:
    group: str
    check: str
    ok: bool


@dataclass(frozen=True, slots=True)
class ComponentFault:
    """A helper (check, watcher, hook, thread) reports a fault; message None clears it."""

    component: str
    message: str | None


@dataclass(frozen=True, slots=True)
class ControlListening:
    """The runtime priority listener is bound to this port (None: it is not listening)."""

    port: int | None


@dataclass(frozen=True, slots=True)
class SwitchAvailable:
    """Whether this agent can hold its announcements and switch the clients (agent.arphold)."""

    available: bool


@dataclass(frozen=True, slots=True)
class PrioritiesChanged:
    """The runtime priorities in force (group -> priority) and the last applied seq."""

    priorities: tuple[tuple[str, int], ...]
    seq: tuple[int, int] | None


Event = (
    InterfaceFound
    | Fault
    | KeepalivedChanged
    | VrrpChanged
    | AddressesObserved
    | CheckChanged
    | ComponentFault
    | ControlListening
    | SwitchAvailable
    | PrioritiesChanged
)


def initial(stack: str, node: NodePlan, hostname: str) -> AgentState:
    instances = tuple(
        InstanceState(
            group=i.group,
            vrid=i.vrid,
            priority=i.priority,
            vips=i.addresses,
            checks=tuple(sorted((c.name, "unknown") for c in i.checks)),
        )
        for i in node.instances
    )
    return AgentState(stack=stack, node=hostname, node_id=node.node_id, instances=instances)


def _set_vrrp(state: AgentState, ev: VrrpChanged) -> AgentState:
    def update(inst: InstanceState) -> InstanceState:
        if inst.group != ev.group:
            return inst
        if ev.state != "MASTER":
            return replace(inst, vrrp_state=ev.state, after_release=None)
        if inst.vrrp_state == "MASTER":  # no new takeover: what it took over on stays
            return inst
        return replace(inst, vrrp_state=ev.state, after_release=ev.after_release)

    return replace(state, instances=tuple(update(i) for i in state.instances))


def _set_check(state: AgentState, ev: CheckChanged) -> AgentState:
    def update(inst: InstanceState) -> InstanceState:
        if inst.group != ev.group:
            return inst
        checks = dict(inst.checks)
        checks[ev.check] = "ok" if ev.ok else "failing"
        return replace(inst, checks=tuple(sorted(checks.items())))

    return replace(state, instances=tuple(update(i) for i in state.instances))


def _keepalived(state: AgentState, ev: KeepalivedChanged) -> AgentState:
    new = replace(state, keepalived=ev.status, reason=ev.reason)
    if ev.status in ("exited", "stopped"):
        new = replace(
            new,
            instances=tuple(
                replace(i, vrrp_state="STOP", after_release=None) for i in state.instances
            ),
        )
    return new


def _set_fault(state: AgentState, ev: ComponentFault) -> AgentState:
    faults = dict(state.faults)
    if ev.message is None:
        faults.pop(ev.component, None)
    else:
        faults[ev.component] = ev.message
    return replace(state, faults=tuple(sorted(faults.items())))


def _set_priorities(state: AgentState, ev: PrioritiesChanged) -> AgentState:
    wanted = dict(ev.priorities)
    insts = tuple(replace(i, priority=wanted.get(i.group, i.priority)) for i in state.instances)
    return replace(state, instances=insts, control_seq=ev.seq)


def fold(state: AgentState, event: Event) -> AgentState:
    """The state after one event; unknown groups are ignored."""
    match event:
        case InterfaceFound(name=name):
            return replace(state, interface=name, reason=None)
        case Fault(reason=reason):
            return replace(state, reason=reason)
        case KeepalivedChanged():
            return _keepalived(state, event)
        case VrrpChanged():
            return _set_vrrp(state, event)
        case AddressesObserved(addresses=addresses):
            return replace(state, present=addresses)
        case CheckChanged():
            return _set_check(state, event)
        case ComponentFault():
            return _set_fault(state, event)
        case ControlListening(port=port):
            return replace(state, control_port=port)
        case SwitchAvailable(available=available):
            return replace(state, control_switch=available)
        case PrioritiesChanged():
            return _set_priorities(state, event)
    return state


def parse_notify_line(line: str) -> VrrpChanged | None:
    """`INSTANCE "web" MASTER 150` (keepalived's notify FIFO) → VrrpChanged; else None."""
    match = _FIFO_LINE.match(line.strip())
    if not match or match.group(2) not in VRRP_STATES:
        return None
    return VrrpChanged(group=match.group(1), state=match.group(2), priority=int(match.group(3)))


def entered_states(old: AgentState, new: AgentState) -> tuple[tuple[str, str], ...]:
    """(group, state) for each instance whose VRRP state changed between old and new."""
    before = {i.group: i.vrrp_state for i in old.instances}
    return tuple(
        (i.group, i.vrrp_state) for i in new.instances if before.get(i.group) != i.vrrp_state
    )


def _present(inst: InstanceState, present: frozenset[str]) -> tuple[str, ...]:
    return tuple(v.with_prefixlen for v in inst.vips if str(v.ip) in present)


def _instance_report(inst: InstanceState, present: frozenset[str]) -> InstanceReport:
    found = _present(inst, present)
    return InstanceReport(
        group=inst.group,
        vrid=inst.vrid,
        priority=inst.priority,
        vrrp_state=inst.vrrp_state,
        vips=tuple(v.with_prefixlen for v in inst.vips),
        vips_present=found,
        holds_vip=bool(inst.vips) and len(found) == len(inst.vips),
        checks=inst.checks,
        after_release=inst.after_release,
    )


def to_report(
    state: AgentState, kind: Kind, ts: float, seq: int, interval: float, version: str
) -> Report:
    return Report(
        kind=kind,
        ts=ts,
        seq=seq,
        stack=state.stack,
        node=state.node,
        node_id=state.node_id,
        interface=state.interface,
        keepalived=state.keepalived,
        instances=tuple(_instance_report(i, state.present) for i in state.instances),
        reason=state.reason,
        interval=interval,
        version=version,
        faults=tuple(f"{component}: {message}" for component, message in state.faults),
        control=None
        if state.control_port is None
        else ControlReport(
            port=state.control_port, seq=state.control_seq, switch=state.control_switch
        ),
    )


def normalize_address(text: str) -> str:
    """The canonical text of an address as netlink reports it ('fe80::1', '10.0.0.1')."""
    return str(ipaddress.ip_address(text))

"""Both ends of a planned move's client switch (agent.arphold), as the agent's loop runs them.

The lifted node T (`Holds`): the relay's lift carries `hold` (wire.command). Before the agent
answers, its announcements of the group's VIPs are held back. The hold ends:
- when the old holder's gratuitous ARP names this node (the switch: the clients are here);
- at T's takeover, when no release from the old holder came just before it (the relay died
  between lift and release, and T preempted by itself: the old holder yields without a
  switch, so T must announce itself now, as keepalived would have);
- SWITCH_MAX after a takeover on the old holder's release (its agent died mid-switch), or
  LIFT_MAX after the lift without any takeover (the move was given up).
When it ends on T as MASTER, T announces the VIPs itself (harmless after a switch, needed
after the others).

The holder H (`switch_clients`): its release carries `switch`. It drops T's adverts, releases,
waits for T's first advert (T is MASTER with the VIP, the clients still here), waits for the
quiet instant (agent.quiet), sends the gratuitous ARP naming T, lets T's adverts in and
releases again: T answers with an advert at once (RFC 5798 6.4.3) and H yields.

The timing rules are pure (`Holds`); the rest calls agent.arphold.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from swarmvip.agent import arphold, quiet, release
from swarmvip.model import InstancePlan

SWITCH_WAIT = 0.3  # seconds H waits for T's advert after its release (Skew_Time + scheduling)
SWITCH_MAX = quiet.QUIET_BUDGET + SWITCH_WAIT + 0.2  # T's hold after a takeover on a release
RELEASED_WITHIN = 0.3  # a takeover this soon after the holder's release was caused by it


def lift_max(inst: InstancePlan) -> float:
    """How long a hold waits for T's takeover: its own preemption bound and a margin."""
    return 3 * inst.timers.advert_int + inst.preempt_delay + 2.0


def vips_v4(inst: InstancePlan) -> list[str]:
    return [str(a.ip) for a in inst.addresses if a.version == 4]


@dataclass(slots=True)
class Hold:
    holder: str  # the old holder's VRRP source address
    dev: str  # the VIPs' NIC
    deadline: float  # monotonic
    watcher: arphold.SwitchWatcher | None = None


class Holds:
    """The groups whose announcements this agent holds back; owned by the agent's loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.active: dict[str, Hold] = {}

    def add(self, group: str, hold: Hold) -> None:
        self.active[group] = hold

    def on_master(self, group: str, released_by: str | None) -> bool:
        """T became MASTER of `group`: True when the hold ends now (no release from the
        holder just before); else it waits at most SWITCH_MAX for the switch."""
        hold = self.active.get(group)
        if hold is None:
            return False
        if released_by != hold.holder:
            return True
        hold.deadline = min(hold.deadline, self.clock() + SWITCH_MAX)
        return False

    def due(self) -> list[str]:
        now = self.clock()
        return sorted(g for g, h in self.active.items() if h.deadline <= now)

    def next_deadline(self) -> float | None:
        return min((h.deadline for h in self.active.values()), default=None)

    def pop(self, group: str) -> Hold | None:
        return self.active.pop(group, None)


def start_hold(inst: InstancePlan, dev: str, holder: str, on_switched: Callable[[], None]) -> Hold:
    """Hold back this node's announcements of `inst`'s VIPs on `dev`; arphold.HoldError."""
    vips = vips_v4(inst)
    arphold.nft(arphold.hold_ruleset(inst.vrid, dev, vips))
    hold = Hold(holder, dev, time.monotonic() + lift_max(inst))
    with contextlib.suppress(OSError):  # no watcher: the hold ends by its deadlines
        hold.watcher = arphold.SwitchWatcher(dev, vips, arphold.own_mac(dev), on_switched)
    return hold


def end_hold(inst: InstancePlan, hold: Hold, master: bool) -> str:
    """Lift the hold; as MASTER, announce the VIPs here. What happened, for the log."""
    if hold.watcher is not None:
        hold.watcher.stop()
    problem = None
    if master:  # first, through the hold (marked), then once more without it
        problem = _announce(inst, hold.dev)
    arphold.delete("netdev", arphold.hold_table(inst.vrid))
    if not master:
        return "hold lifted"
    problem = _announce(inst, hold.dev) or problem
    return f"hold lifted; no announcement: {problem}" if problem else "hold lifted, VIPs announced"


def _announce(inst: InstancePlan, dev: str) -> str | None:
    try:
        arphold.announce(dev, arphold.own_mac(dev), vips_v4(inst))
    except OSError as exc:
        return str(exc)
    return None


def switch_clients(
    inst: InstancePlan, vrrp_dev: str, vip_dev: str, address: str, auth: str | None
) -> str:
    """H's side (module docstring); OSError/ValueError when it could not even release. What
    happened, for the log."""
    vips = vips_v4(inst)
    arphold.nft(arphold.block_ruleset(inst.vrid, address))
    mac: str | None = None
    try:
        with arphold.advert_socket(vrrp_dev) as sock:
            release.hand_over(inst, address, auth)
            mac = arphold.wait_advert(sock, address, SWITCH_WAIT)
            if mac is not None:
                with arphold.Announcer(vip_dev, mac, vips) as announcer:
                    when = quiet.wait_quiet(vip_dev, frozenset(vips), then=announcer.send)
    finally:
        arphold.delete("inet", arphold.block_table(inst.vrid))
    if mac is None:
        return f"released {inst.group} to {address}; no advert from it within {SWITCH_WAIT:g}s"
    release.hand_over(inst, address, auth)  # it answers at once; keepalived here yields
    return f"switched {inst.group}'s clients to {address} ({mac}) {quiet.describe(when)}"

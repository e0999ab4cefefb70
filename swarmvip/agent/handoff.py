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
after the others). From the lift until STRAY_AFTER after the switch, T also sends back to the
old holder the packets of connections it never saw open (arphold.stray_ruleset): a handshake
that reached the old holder just before the clients' ARP changed ends there, not in a reset.

The holder H (`switch_clients`): its release carries `switch`. It drops T's adverts and holds
back its own gratuitous ARP (T's rule, without replies), releases, waits for T's first advert (T is
MASTER with the VIP, the clients still here), waits for the quiet instant (agent.quiet; at most
half an advert interval, `quiet_budget`, since both nodes have the VIP meanwhile), sends
the gratuitous ARP naming T (marked: it passes the hold), lets T's adverts in and releases
again: T answers with an advert at once (RFC 5798 6.4.3) and H yields. Until it yields H still
has the VIP, and its keepalived may announce it (the second set of gratuitous ARP
garp_master_delay after H's own takeover, or a MASTER's answer to a lower-priority advert),
which would take the clients back for a moment (bench/results/planned.md, session 9: a cycle
of 4 moves, a failed request 20 ms after a switch). So H's own hold lasts until H leaves
MASTER (`Hold.own`), or YIELD_MAX after its switch: then H, still MASTER, announces itself.

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
# seconds the lifted node goes on sending the old holder's stray packets back to it after the
# switch (arphold.stray_ruleset): the old holder yields within tens of ms of it
STRAY_AFTER = 0.5


def quiet_budget(inst: InstancePlan) -> float:
    """How long H waits for its quiet instant at a switch. Both nodes have the VIPs for the
    whole wait, and the switch's own steps around it add 45-111 ms (64 ms median over 128
    moves, bench/results/planned.md run 12), so half an advert interval (QUIET_BUDGET at most)
    keeps two holders within one advert interval. A connection still open when it runs out
    need not break: T sends its stray packets back to H."""
    return min(quiet.QUIET_BUDGET, inst.timers.advert_int / 2)


def yield_max(inst: InstancePlan) -> float:
    """How long H's own hold waits for H to yield after its switch: T answers the release at
    once, so this is only the bound for a T that went silent (3 adverts) and a margin."""
    return 3 * inst.timers.advert_int + SWITCH_WAIT


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
    own: bool = False  # the old holder's, after its switch: ends when it leaves MASTER
    strays: bool = False  # the lifted node sends the old holder's stray packets back to it


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

    def own(self, group: str) -> bool:
        """`group`'s hold is the old holder's own (it ends when this node leaves MASTER; a
        lifted node's hold goes on to its own rules)."""
        hold = self.active.get(group)
        return hold is not None and hold.own

    def due(self) -> list[str]:
        now = self.clock()
        return sorted(g for g, h in self.active.items() if h.deadline <= now)

    def next_deadline(self) -> float | None:
        return min((h.deadline for h in self.active.values()), default=None)

    def pop(self, group: str) -> Hold | None:
        return self.active.pop(group, None)


def stray_window(inst: InstancePlan) -> float:
    """How long the stray rule of a lift lasts at most: the lift's wait for the takeover, the
    switch after it, and STRAY_AFTER (the switch shortens it to STRAY_AFTER)."""
    return lift_max(inst) + SWITCH_MAX + STRAY_AFTER


def start_hold(inst: InstancePlan, dev: str, holder: str, on_switched: Callable[[], None]) -> Hold:
    """Hold back this node's announcements of `inst`'s VIPs on `dev`, and send the old holder's
    stray packets back to it when its MAC is known here (the VRRP adverts between the two
    nodes put it in the ARP cache); arphold.HoldError."""
    vips = vips_v4(inst)
    ruleset = arphold.hold_ruleset(inst.vrid, dev, vips)
    try:
        own: str | None = arphold.own_mac(dev)
    except OSError:
        own = None
    mac = arphold.mac_of(holder)
    strays = False
    if own is not None and mac is not None:  # nft refusing the stray rule still gets the hold
        with contextlib.suppress(arphold.HoldError, ValueError):
            window = stray_window(inst)
            arphold.nft(ruleset + arphold.stray_ruleset(inst.vrid, dev, vips, (own, mac), window))
            strays = True
    if not strays:
        arphold.nft(ruleset)
    hold = Hold(holder, dev, time.monotonic() + lift_max(inst), strays=strays)
    if own is not None:  # else no watcher: the hold ends by its deadlines
        with contextlib.suppress(OSError):
            hold.watcher = arphold.SwitchWatcher(dev, vips, own, on_switched)
    return hold


def end_hold(inst: InstancePlan, hold: Hold, master: bool) -> str:
    """Lift the hold; as MASTER, announce the VIPs here. What happened, for the log."""
    if hold.watcher is not None:
        hold.watcher.stop()
    problem = None
    if master:  # first, through the hold (marked), then once more without it
        problem = _announce(inst, hold.dev)
    count = arphold.held(inst.vrid)
    _lift(inst, hold)
    parts = [] if count is None else [f"{count} held back"]
    if not master:
        return _lifted(parts)
    problem = _announce(inst, hold.dev) or problem
    parts += _strays(inst, hold)
    lifted = _lifted(parts)
    return f"{lifted}; no announcement: {problem}" if problem else f"{lifted}, VIPs announced"


def _lifted(parts: list[str]) -> str:
    return f"hold lifted ({'; '.join(parts)})" if parts else "hold lifted"


def _lift(inst: InstancePlan, hold: Hold) -> None:
    """Delete the hold's table and, in the same batch, end its stray window STRAY_AFTER from
    now; a batch nft refuses (the stray table went away) is retried without the window."""
    table = arphold.hold_table(inst.vrid)
    if hold.strays:
        shorten = arphold.stray_shorten(inst.vrid, vips_v4(inst), STRAY_AFTER)
        with contextlib.suppress(arphold.HoldError):
            arphold.nft(f"delete table netdev {table}\n{shorten}")
            return
    arphold.delete("netdev", table)


def _strays(inst: InstancePlan, hold: Hold) -> list[str]:
    """For the log: how many stray packets went back to the old holder so far."""
    if not hold.strays:
        return []
    sent = arphold.counted(arphold.stray_table(inst.vrid))
    plural = "s" if sent != 1 else ""
    return [f"{sent} stray packet{plural} sent back to {hold.holder}"] if sent else []


def _announce(inst: InstancePlan, dev: str) -> str | None:
    try:
        arphold.announce(dev, arphold.own_mac(dev), vips_v4(inst))
    except OSError as exc:
        return str(exc)
    return None


def switch_clients(
    inst: InstancePlan, vrrp_dev: str, vip_dev: str, address: str, auth: str | None
) -> tuple[str, Hold | None]:
    """H's side (module docstring); OSError/ValueError when it could not even release. What
    happened, for the log, and H's own hold once it switched (the caller ends it when H
    yields, or at its deadline); without a switch, H's hold is lifted here."""
    vips = vips_v4(inst)
    # one nft batch: T's adverts blocked, H's own announcements held (before the release)
    arphold.nft(
        arphold.block_ruleset(inst.vrid, address)
        + arphold.hold_ruleset(inst.vrid, vip_dev, vips, replies=False)
    )
    mac: str | None = None
    try:
        with arphold.advert_socket(vrrp_dev) as sock:
            release.hand_over(inst, address, auth)
            mac = arphold.wait_advert(sock, address, SWITCH_WAIT)
            if mac is not None:
                with arphold.Announcer(vip_dev, mac, vips) as announcer:
                    when = quiet.wait_quiet(
                        vip_dev, frozenset(vips), quiet_budget(inst), then=announcer.send
                    )
    finally:
        arphold.delete("inet", arphold.block_table(inst.vrid))
        if mac is None:  # no switch: the clients are still here, nothing to hold back
            arphold.delete("netdev", arphold.hold_table(inst.vrid))
    if mac is None:
        said = f"released {inst.group} to {address}; no advert from it within {SWITCH_WAIT:g}s"
        return said, None
    own = Hold(address, vip_dev, time.monotonic() + yield_max(inst), own=True)
    release.hand_over(inst, address, auth)  # it answers at once; keepalived here yields
    said = f"switched {inst.group}'s clients to {address} ({mac}) {quiet.describe(when)}"
    return said, own

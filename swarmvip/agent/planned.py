"""The agent's part in planned moves, as its loop runs them (agent.run owns one).

When this node holds a group the writer moves, its release goes out at the quiet instant
(agent.release, agent.quiet), or the old holder's switch of the clients when both ends can
(agent.handoff); after a switch, its own hold lasts until it yields. When this node is the
lifted one, its announcements of the group's VIPs are held back until the switch
(agent.arphold). Every method runs on the loop's thread; the switch watcher's thread only
posts `Switched` into the loop.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from swarmvip.agent import adverts, handoff, quiet, release
from swarmvip.model import InstancePlan


@dataclass(frozen=True, slots=True)
class Switched:
    """Another host's gratuitous ARP named this node for `group`: the clients are here."""

    group: str


def _say(line: str) -> None:
    print(f"swarmvip agent: {line}", file=sys.stderr, flush=True)


class PlannedMoves:
    """The releases, switches and holds of this node's groups."""

    def __init__(
        self,
        instances: Iterable[InstancePlan],
        releases: adverts.Releases,
        post: Callable[[object], None],
        is_master: Callable[[str], bool],
    ) -> None:
        self.instances = {i.group: i for i in instances}
        self.releases = releases  # the priority-0 adverts received (agent.adverts)
        self.post = post
        self.is_master = is_master
        self.holds = handoff.Holds()  # groups whose announcements are held back

    # --- the holder's side ------------------------------------------------------------------
    def release(self, group: str, address: str, vip_dev: str, auth: str | None) -> None:
        """Hand `group` to the lifted node at `address` (agent.release) at the next instant
        with no connection open to its VIPs (agent.quiet: at most QUIET_BUDGET from now); on
        failure it preempts by itself after 3 x advert_int, so a failure is logged, not a
        fault."""
        inst = self.instances[group]
        when = quiet.wait_quiet(vip_dev, frozenset(str(a.ip) for a in inst.addresses))
        try:
            release.hand_over(inst, address, auth)
        except (OSError, ValueError) as exc:
            _say(f"no release of {group} to {address}: {exc}")
            return
        _say(f"released {group} to {address} {quiet.describe(when)}")

    def switch(
        self, group: str, vrrp_dev: str, vip_dev: str, address: str, auth: str | None
    ) -> None:
        """Release `group` to `address` and switch the clients to it at the quiet instant
        (agent.handoff), then hold this node's own announcements until it yields; today's
        release when that cannot be done."""
        try:
            said, own = handoff.switch_clients(
                self.instances[group], vrrp_dev, vip_dev, address, auth
            )
        except (OSError, ValueError) as exc:
            _say(f"no switch of {group}: {exc}; releasing instead")
            self.release(group, address, vip_dev, auth)
            return
        if own is not None:
            self.holds.add(group, own)
        _say(said)

    # --- the lifted node's side -----------------------------------------------------------
    def hold(self, group: str, holder: str, vip_dev: str) -> None:
        """Hold back this node's announcements of `group` until `holder` switches the clients
        here (agent.handoff); before the command's answer, so before the holder's release."""
        inst = self.instances[group]
        old = self.holds.pop(group)
        if old is not None:
            handoff.end_hold(inst, old, master=False)
        try:
            hold = handoff.start_hold(inst, vip_dev, holder, lambda: self.post(Switched(group)))
        except (OSError, ValueError) as exc:
            _say(f"no hold of {group}: {exc}")
            return
        self.holds.add(group, hold)

    # --- ends -----------------------------------------------------------------------------
    def end_hold(self, group: str, why: str) -> None:
        hold = self.holds.pop(group)
        if hold is None:
            return
        done = handoff.end_hold(self.instances[group], hold, self.is_master(group))
        _say(f"{group}: {why}: {done}")

    def on_master(self, group: str) -> None:
        """A held group's takeover: the hold goes on only if the holder's release caused it."""
        if group not in self.holds.active:
            return
        inst, holder = self.instances[group], self.holds.active[group].holder
        now = time.monotonic()
        ago = self.releases.sent_release(inst.vrid, holder, now, handoff.RELEASED_WITHIN)
        if self.holds.on_master(group, None if ago is None else holder):
            last = self.releases.sent_release(inst.vrid, holder, now, float("inf"))
            seen = "none seen" if last is None else f"the last {last:.3f}s ago"
            self.end_hold(group, f"took over without a release from {holder} ({seen})")

    def on_left_master(self, group: str, vrrp_state: str) -> None:
        """The old holder's own hold ends when it yields (a lifted node's goes on)."""
        if self.holds.own(group):
            self.end_hold(group, f"yielded ({vrrp_state})")

    def end_due(self) -> None:
        for group in self.holds.due():
            own = self.holds.own(group)  # the old holder's own: it did not yield
            self.end_hold(group, "still MASTER after its switch" if own else "no switch in time")

    def end_all(self, why: str) -> None:
        for group in list(self.holds.active):
            self.end_hold(group, why)

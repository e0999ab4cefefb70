"""The agent's only pyroute2 user: find the interfaces, remove stale VIPs, watch addresses.

The VRRP interface carries the adverts (the node's unicast address); a group with `interface:`
puts its VIPs on its own NIC, found by name or by a network one of its addresses is in.

Plain values go out (interface names, frozensets of address strings); pyroute2 messages never
leave this module. `netns` (a name under /run/netns) exists for tests; the agent itself runs
in the node's namespace and leaves it None.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import select
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pyroute2 import IPRoute, IPRSocket
from pyroute2.netlink.rtnl import RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR

from swarmvip.model import IPInterface, VipInterface
from swarmvip.wire.keys import NODE_INTERFACE

ADDR_GROUPS = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR
MAIN_TABLE = 254


class InterfaceNotFound(Exception):
    """No interface matches; the message is the reason shown in the fault report."""


def _index_of(ipr: Any, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return int(found[0]) if found else None


def _name_of(ipr: Any, index: int) -> str:
    return str(ipr.get_links(index)[0].get_attr("IFLA_IFNAME"))


def _index_by_address(ipr: Any, address: str) -> int | None:
    want = ipaddress.ip_address(address)
    for msg in ipr.get_addr():
        if ipaddress.ip_address(msg.get_attr("IFA_ADDRESS")) == want:
            return int(msg["index"])
    return None


def _index_by_route(ipr: Any, vips: Iterable[IPInterface]) -> int | None:
    """The interface of the most specific non-default main-table route containing a VIP."""
    best: tuple[int, int] | None = None
    for vip in vips:
        for route in ipr.get_routes(family=2 if vip.version == 4 else 10, table=MAIN_TABLE):
            dst, oif = route.get_attr("RTA_DST"), route.get_attr("RTA_OIF")
            if dst is None or oif is None or route["dst_len"] == 0:
                continue
            net = ipaddress.ip_network(f"{dst}/{route['dst_len']}", strict=False)
            if vip.ip in net and (best is None or net.prefixlen > best[0]):
                best = (net.prefixlen, int(oif))
    return best[1] if best else None


def detect_interface(
    unicast_src: str,
    vips: Iterable[IPInterface],
    override: str | None = None,
    netns: str | None = None,
) -> str:
    """The override if it exists, else the holder of unicast_src, else the route to the VIPs."""
    vips = tuple(vips)
    with IPRoute(netns=netns) as ipr:
        if override:
            if _index_of(ipr, override) is None:
                raise InterfaceNotFound(f"interface {override!r} (node label) does not exist")
            return override
        index = _index_by_address(ipr, unicast_src) if unicast_src else None
        if index is None:
            index = _index_by_route(ipr, vips)
        if index is None:
            shown = ", ".join(v.with_prefixlen for v in vips)
            raise InterfaceNotFound(
                f"no interface holds {unicast_src} and no route covers {shown}; "
                f"set the node label {NODE_INTERFACE}"
            )
        return safe_name(_name_of(ipr, index))


# Linux allows almost any byte in an interface name; only these may reach keepalived.conf.
SAFE_IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,14}$")


def safe_name(name: str) -> str:
    """A detected interface name fit for keepalived's config, or InterfaceNotFound."""
    if not SAFE_IFNAME.fullmatch(name):
        raise InterfaceNotFound(
            f"interface {name!r} has characters keepalived.conf cannot take; "
            f"rename it, or set the node label {NODE_INTERFACE}"
        )
    return name


def vip_interface(group: str, want: VipInterface, netns: str | None = None) -> str:
    """The NIC of a group's VIPs on this node: the named one if it exists, else the only one
    with an address in the network; InterfaceNotFound (the fault reason) otherwise."""
    with IPRoute(netns=netns) as ipr:
        if want.name is not None:
            if _index_of(ipr, want.name) is None:
                raise InterfaceNotFound(
                    f"group {group}: interface {want.name!r} (its interface:) does not exist"
                    " on this node; create it, or keep the node out of the group with"
                    " placement constraints"
                )
            return safe_name(want.name)
        assert want.network is not None
        found = sorted(
            {
                int(msg["index"])
                for msg in ipr.get_addr()
                if msg.get_attr("IFA_ADDRESS") is not None
                and ipaddress.ip_address(msg.get_attr("IFA_ADDRESS")) in want.network
            }
        )
        names = [_name_of(ipr, index) for index in found]
    if not names:
        raise InterfaceNotFound(
            f"group {group}: no interface on this node has an address in {want.network}"
            " (its interface:); add one, or keep the node out of the group with placement"
            " constraints"
        )
    if len(names) > 1:
        raise InterfaceNotFound(
            f"group {group}: interfaces {', '.join(map(repr, names))} all have an address in"
            f" {want.network} (its interface:); name the interface, or narrow the network"
        )
    return safe_name(names[0])


def missing_interfaces(names: Iterable[str], netns: str | None = None) -> tuple[str, ...]:
    """The names among `names` that no interface of this node has."""
    with IPRoute(netns=netns) as ipr:
        return tuple(n for n in names if _index_of(ipr, n) is None)


def _addresses(ipr: Any, index: int) -> frozenset[str]:
    return frozenset(
        str(ipaddress.ip_address(m.get_attr("IFA_ADDRESS"))) for m in ipr.get_addr(index=index)
    )


def interface_addresses(iface: str, netns: str | None = None) -> frozenset[str]:
    with IPRoute(netns=netns) as ipr:
        index = _index_of(ipr, iface)
        return _addresses(ipr, index) if index is not None else frozenset()


def remove_addresses(
    iface: str, vips: Iterable[IPInterface], netns: str | None = None
) -> tuple[str, ...]:
    """Delete the given VIPs (any prefix length) from iface; returns the ones removed."""
    removed: list[str] = []
    with IPRoute(netns=netns) as ipr:
        index = _index_of(ipr, iface)
        if index is None:
            return ()
        for msg in ipr.get_addr(index=index):
            addr = ipaddress.ip_address(msg.get_attr("IFA_ADDRESS"))
            if any(v.ip == addr for v in vips):
                ipr.addr("del", index=index, address=str(addr), prefixlen=msg["prefixlen"])
                removed.append(f"{addr}/{msg['prefixlen']}")
    return tuple(removed)


class AddressWatcher(threading.Thread):
    """One thread: dump the interfaces' addresses, then follow netlink address events.

    `iface` is one interface or several (the VRRP interface and the groups' own VIP NICs); the
    addresses published are those on any of them. Calls on_change(addresses) with the full set
    whenever it changes (and once after each dump). On a receive-buffer overflow (ENOBUFS) it
    reopens the socket and dumps again. Any other error (an OSError, pyroute2's
    NetlinkError/NetlinkDecodeError, which are not OSErrors, anything) is reported through
    on_fault(component, message) and retried after `retry` seconds; the next successful dump
    clears it (on_fault(component, None)). The loop never ends on an exception.
    """

    def __init__(
        self,
        iface: str | Sequence[str],
        on_change: Callable[[frozenset[str]], None],
        netns: str | None = None,
        poll: float = 0.5,
        on_fault: Callable[[str, str | None], None] | None = None,
        retry: float = 1.0,
    ) -> None:
        self.ifaces = (iface,) if isinstance(iface, str) else tuple(dict.fromkeys(iface))
        self.iface = "+".join(self.ifaces)
        super().__init__(name=f"netlink-{self.iface}", daemon=True)
        self.on_change, self.netns, self.poll = on_change, netns, poll
        self.on_fault, self.retry = on_fault, retry
        self._halt = threading.Event()
        self._current: frozenset[str] | None = None
        self._faulted = False
        self.resyncs = 0

    @property
    def component(self) -> str:
        return f"netlink watcher {self.iface}"

    def stop(self) -> None:
        self._halt.set()

    def _publish(self, addresses: frozenset[str]) -> None:
        if addresses != self._current:
            self._current = addresses
            self.on_change(addresses)

    def _dump(self) -> dict[int, set[str]]:
        """{interface index: its addresses} for the watched interfaces that exist."""
        with IPRoute(netns=self.netns) as ipr:
            indexes = [i for name in self.ifaces if (i := _index_of(ipr, name)) is not None]
            return {i: set(_addresses(ipr, i)) for i in indexes}

    def _apply(self, msgs: Iterable[Any], known: dict[int, set[str]]) -> None:
        for msg in msgs:
            index = msg.get("index")
            if index not in known or msg.get_attr("IFA_ADDRESS") is None:
                continue
            addr = str(ipaddress.ip_address(msg.get_attr("IFA_ADDRESS")))
            if msg["event"] == "RTM_NEWADDR":
                known[index].add(addr)
            elif msg["event"] == "RTM_DELADDR":
                known[index].discard(addr)

    def _synced(self) -> None:
        """A dump succeeded: a reported fault is over."""
        if self._faulted and self.on_fault is not None:
            self.on_fault(self.component, None)
        self._faulted = False

    @staticmethod
    def _union(known: dict[int, set[str]]) -> frozenset[str]:
        return frozenset(a for addresses in known.values() for a in addresses)

    def _follow(self) -> None:
        sock = IPRSocket(netns=self.netns, groups=ADDR_GROUPS)
        try:
            sock.bind()
            known = self._dump()  # after bind: no event between dump and watch is lost
            self._publish(self._union(known))
            self._synced()
            while not self._halt.is_set():
                ready, _, _ = select.select([sock.fileno()], [], [], self.poll)
                if ready:
                    self._apply(sock.get(), known)
                    self._publish(self._union(known))
        finally:
            sock.close()

    def _failed(self, exc: Exception) -> None:
        self.resyncs += 1
        if isinstance(exc, OSError) and exc.errno == errno.ENOBUFS:
            return  # events were lost: dump again at once
        self._faulted = True
        if self.on_fault is not None:
            self.on_fault(self.component, f"{exc!r}; resyncing")
        self._halt.wait(self.retry)

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self._follow()
            except Exception as exc:  # never die: a dead watcher would freeze holds_vip
                try:
                    self._failed(exc)
                except Exception:  # the callback itself failed: retry slowly all the same
                    self._halt.wait(self.retry)

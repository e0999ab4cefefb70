"""Validate a VIP group's keepalived knobs: `garp`, `track_interfaces`, `interface`, `notify`. Pure.

Every value that reaches keepalived.conf is refused here unless it is a number in range or a
name in a strict pattern: a stack file never carries keepalived syntax.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from swarmvip.model import (
    HOOK_TIMEOUT,
    Garp,
    HookArgs,
    NotifyHooks,
    TrackedInterface,
    VipInterface,
)
from swarmvip.plan.node_labels import IFACE_PATTERN
from swarmvip.spec import values
from swarmvip.spec.problems import Path, Source

GARP_KEYS = ("delay", "repeat", "refresh", "refresh_repeat")
TRACK_KEYS = ("name", "weight")
NOTIFY_KEYS = ("master", "backup", "fault", "args", "timeout")
# Linux interface names: at most IFNAMSIZ-1 = 15 bytes; the kernel refuses '/', ':' and
# whitespace, and swarmvip also keeps every other sign out of keepalived.conf.
IFNAME = IFACE_PATTERN
MAX_GARP_DELAY = 3600  # keepalived takes at most 4294 s
MAX_GARP_REFRESH = 86400  # a day, keepalived's bound for its other periodic GARP
MAX_GARP_REPEAT = 100  # keepalived needs at least 1
MAX_TRACK_WEIGHT = 253  # keepalived.conf(5): track_interface weight -253..253
MAX_TRACKED = 32
MIN_HOOK_TIMEOUT, MAX_HOOK_TIMEOUT = 1.0, 600.0
_NETWORK_CHARS = re.compile(r"^[0-9A-Fa-f.:]+/[0-9]{1,3}$")


def _whole_seconds(src: Source, path: Path, raw: Any, maximum: int) -> int | None:
    seconds = values.duration(src, path, raw, maximum=maximum)
    if seconds is None:
        return None
    if seconds != int(seconds):
        src.problem(
            path,
            f"{raw!r} is not a whole number of seconds (keepalived counts these in seconds)",
            "e.g. 5, '5s' or '1m'",
        )
        return None
    return int(seconds)


def parse_garp(src: Source, path: Path, raw: Any) -> Garp:
    if raw is None:
        return Garp()
    if not isinstance(raw, Mapping):
        src.problem(
            path,
            "garp must be a mapping",
            "e.g. garp: {delay: 5s, repeat: 5, refresh: 60s, refresh_repeat: 2}",
        )
        return Garp()
    src.unknown_keys(path, raw, GARP_KEYS)
    delay = raw.get("delay")
    repeat = raw.get("repeat")
    refresh = raw.get("refresh")
    refresh_repeat = raw.get("refresh_repeat")
    garp = Garp(
        delay=None
        if delay is None
        else _whole_seconds(src, (*path, "delay"), delay, MAX_GARP_DELAY),
        repeat=(
            None
            if repeat is None
            else values.integer(src, (*path, "repeat"), repeat, 1, MAX_GARP_REPEAT)
        ),
        refresh=(
            None
            if refresh is None
            else _whole_seconds(src, (*path, "refresh"), refresh, MAX_GARP_REFRESH)
        ),
        refresh_repeat=(
            None
            if refresh_repeat is None
            else values.integer(src, (*path, "refresh_repeat"), refresh_repeat, 1, MAX_GARP_REPEAT)
        ),
    )
    if refresh_repeat is not None and not garp.refresh:
        src.problem(
            (*path, "refresh_repeat"),
            "refresh_repeat has no effect without a refresh period",
            "add refresh: 60s (a master re-announces its VIPs that often), or remove it",
        )
    return garp


def _interface_name(src: Source, path: Path, raw: Any) -> str | None:
    if not isinstance(raw, str) or not IFNAME.fullmatch(raw):
        src.problem(
            path,
            f"{raw!r} is not an interface name",
            "at most 15 letters, digits, '_', '.', '-', starting with a letter or digit, e.g. eth1",
        )
        return None
    return raw


def _tracked(src: Source, path: Path, raw: Any) -> TrackedInterface | None:
    if isinstance(raw, str):
        name = _interface_name(src, path, raw)
        return TrackedInterface(name) if name else None
    if not isinstance(raw, Mapping):
        src.problem(path, "a tracked interface is a name or {name, weight}", "e.g. eth1")
        return None
    src.unknown_keys(path, raw, TRACK_KEYS)
    if "name" not in raw:
        src.problem((*path, "name"), "missing", "e.g. {name: eth1, weight: -20}")
        return None
    name = _interface_name(src, (*path, "name"), raw["name"])
    weight = values.integer(
        src, (*path, "weight"), raw.get("weight", 0), -MAX_TRACK_WEIGHT, MAX_TRACK_WEIGHT
    )
    return TrackedInterface(name, weight) if name and weight is not None else None


def parse_track_interfaces(src: Source, path: Path, raw: Any) -> tuple[TrackedInterface, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_TRACKED:
        src.problem(
            path,
            f"track_interfaces must be a list of at most {MAX_TRACKED} interfaces",
            "e.g. [eth1, {name: eth2, weight: -20}]",
        )
        return ()
    found = tuple(t for i, item in enumerate(raw) if (t := _tracked(src, (*path, i), item)))
    names = [t.name for t in found]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        src.problem(path, f"interface {dup!r} is tracked twice", "list each interface once")
    return found


def parse_interface(src: Source, path: Path, raw: Any) -> VipInterface | None:
    """`eth1` (a name) or `10.1.0.0/24` (the node's interface with an address in it)."""
    if raw is None:
        return None
    if not isinstance(raw, str) or "/" not in raw:
        name = _interface_name(src, path, raw)
        return VipInterface(name=name) if name else None
    fix = "write the network, e.g. 10.1.0.0/24 or fd00:1::/64, or an interface name"
    if not _NETWORK_CHARS.fullmatch(raw):
        src.problem(path, f"{raw!r} is not a network (NETWORK/PREFIX)", fix)
        return None
    try:
        network = ipaddress.ip_network(raw)
    except ValueError as exc:
        src.problem(path, f"{raw!r} is not a network: {exc}", fix)
        return None
    if network.prefixlen == 0:
        src.problem(path, f"{raw} matches every interface", fix)
        return None
    return VipInterface(network=network)


def _hook_args(src: Source, path: Path, raw: Any) -> HookArgs:
    try:
        return HookArgs(raw)
    except (ValueError, TypeError):
        src.problem(
            path,
            f"{raw!r} is not a hook argument style",
            "use none (environment only) or classic (keepalived's TYPE NAME STATE PRIORITY)",
        )
        return HookArgs.NONE


def parse_notify(src: Source, path: Path, raw: Any) -> NotifyHooks:
    if raw is None:
        return NotifyHooks()
    if not isinstance(raw, Mapping):
        src.problem(path, "notify must be a mapping of state to command", "notify: {master: [...]}")
        return NotifyHooks()
    src.unknown_keys(path, raw, NOTIFY_KEYS)
    hooks = {
        k: values.argv(src, (*path, k), raw[k]) or ()
        for k in ("master", "backup", "fault")
        if k in raw
    }
    timeout = values.duration(
        src,
        (*path, "timeout"),
        raw.get("timeout", HOOK_TIMEOUT),
        minimum=MIN_HOOK_TIMEOUT,
        maximum=MAX_HOOK_TIMEOUT,
    )
    return NotifyHooks(
        **hooks,
        args=_hook_args(src, (*path, "args"), raw.get("args", "none")),
        timeout=timeout if timeout is not None else HOOK_TIMEOUT,
    )

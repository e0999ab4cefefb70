"""Validate one entry of `x-swarmvip.vips` into a VipGroup, recording every problem. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swarmvip.model import (
    Constraint,
    HealthCheck,
    InstanceOptions,
    IPInterface,
    Preemption,
    Timers,
    VipGroup,
)
from swarmvip.plan.constraints import ConstraintSyntaxError, parse_constraint
from swarmvip.spec import values
from swarmvip.spec.problems import Path, Source
from swarmvip.spec.vipchecks import parse_checks
from swarmvip.spec.vipknobs import (
    parse_garp,
    parse_interface,
    parse_notify,
    parse_track_interfaces,
)

VIP_KEYS = (
    "addresses",
    "placement",
    "vrid",
    "preemption",
    "preempt_delay",
    "timers",
    "checks",
    "notify",
    "auth_secret",
    "garp",
    "track_interfaces",
    "interface",
)
MAX_ADVERT = 255.0  # keepalived.conf(5): advert_int of VRRPv2 is 1-255 s (VRRPv3: 40.95)
MAX_PREEMPT_DELAY = 1000.0  # keepalived refuses a preempt_delay above 1000 s
TIMER_PRESETS: dict[str, Timers] = {
    "compat": Timers(advert_int=1.0, version=2),
    "default": Timers(advert_int=0.25, version=3),
    "fast": Timers(advert_int=0.1, version=3),
}


def _addresses(src: Source, path: Path, raw: Any) -> tuple[IPInterface, ...]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        src.problem(path, "addresses must be a non-empty list", "e.g. [10.0.0.100/24]")
        return ()
    found = [values.vip_address(src, (*path, i), a) for i, a in enumerate(items)]
    addrs = tuple(a for a in found if a is not None)
    if len({a.version for a in addrs}) > 1:
        src.problem(
            path,
            "IPv4 and IPv6 addresses are mixed in one VIP group",
            "VRRP carries one family per instance: put them in two groups",
        )
    if len(set(addrs)) != len(addrs):
        src.problem(path, "an address is listed twice", "list each address once")
    return addrs


def _constraints(src: Source, path: Path, raw: Any) -> tuple[Constraint, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        src.problem(path, "placement must be a mapping", "placement: {constraints: [...]}")
        return ()
    src.unknown_keys(path, raw, ("constraints",))
    items = raw.get("constraints", [])
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        src.problem(
            (*path, "constraints"),
            "constraints must be a list of strings",
            "e.g. ['node.labels.edge == true']",
        )
        return ()
    parsed = []
    for i, item in enumerate(items):
        try:
            parsed.append(parse_constraint(item))
        except ConstraintSyntaxError as exc:
            src.problem((*path, "constraints", i), str(exc))
    return tuple(parsed)


def _timers(src: Source, path: Path, raw: Any) -> Timers:
    if raw is None:
        return TIMER_PRESETS["default"]
    if isinstance(raw, str):
        if raw not in TIMER_PRESETS:
            src.problem(
                path,
                f"unknown timer preset {raw!r}",
                f"use one of {', '.join(TIMER_PRESETS)} or {{advert_int: SECONDS}}",
            )
        return TIMER_PRESETS.get(raw, TIMER_PRESETS["default"])
    if not isinstance(raw, Mapping):
        src.problem(path, "timers must be a preset name or a mapping", "e.g. timers: fast")
        return TIMER_PRESETS["default"]
    src.unknown_keys(path, raw, ("advert_int", "version"))
    advert = values.duration(
        src, (*path, "advert_int"), raw.get("advert_int", 1), minimum=0.01, maximum=MAX_ADVERT
    )
    advert = advert if advert is not None else 1.0
    whole = advert >= 1 and advert == int(advert)
    version = raw.get("version", 2 if whole else 3)
    if type(version) is not int or version not in (2, 3):  # not True, not 2.0
        src.problem((*path, "version"), f"VRRP version {version!r} is not 2 or 3", "use 2 or 3")
        version = 3
    if version == 2 and not whole:
        src.problem(
            (*path, "advert_int"),
            "VRRPv2 needs a whole number of seconds",
            "use version: 3 for sub-second adverts",
        )
    if advert > 40.95 if version == 3 else advert > 255:
        src.problem(
            (*path, "advert_int"),
            f"advert_int {advert:g}s is too long",
            "use at most 40 s (VRRPv3) or 255 s (VRRPv2)",
        )
    return Timers(advert_int=advert, version=3 if version == 3 else 2)


def _preemption(src: Source, path: Path, raw: Any) -> Preemption:
    try:
        return Preemption(raw if raw is not None else "preferred")
    except ValueError:
        src.problem(
            path,
            f"{raw!r} is not a preemption policy",
            "use sticky (holder keeps the VIP) or preferred (best node takes it back)",
        )
        return Preemption.PREFERRED


def _cross_checks(src: Source, path: Path, group: VipGroup, raw: Mapping[str, Any]) -> None:
    if group.preemption is Preemption.STICKY and "preempt_delay" in raw:
        src.problem(
            (*path, "preempt_delay"),
            "preempt_delay has no effect with sticky",
            "remove it, or use preemption: preferred",
        )
    if group.preemption is Preemption.STICKY:
        for i, check in enumerate(group.checks):
            if check.weight != 0:
                src.problem(
                    (*path, "checks", i, "weight"),
                    "under sticky a weighted check lowers priority but can never move"
                    " the VIP (backups do not preempt)",
                    "use weight: 0 (a failing check puts the node in FAULT)",
                )
        for i, tracked in enumerate(group.options.track_interfaces):
            if tracked.weight != 0:
                src.problem(
                    (*path, "track_interfaces", i, "weight"),
                    "under sticky a weighted interface lowers priority but can never move"
                    " the VIP (backups do not preempt)",
                    f"list it as a plain name ({tracked.name}) or with weight: 0: a down"
                    " interface then puts the node in FAULT",
                )
    if group.addresses and group.family == 6 and group.timers.version == 2:
        src.problem(
            (*path, "timers"),
            "VRRPv2 carries IPv4 only: keepalived would run this IPv6 group as VRRPv3",
            "use timers: default or fast, or {advert_int: S, version: 3}",
        )
    if group.auth_secret and group.timers.version == 3:
        src.problem(
            (*path, "auth_secret"),
            "VRRPv3 has no authentication; keepalived ignores it",
            "remove auth_secret, or use timers: compat (VRRPv2)",
        )


def parse_vip(src: Source, path: Path, name: str, raw: Any) -> VipGroup | None:
    if not isinstance(raw, Mapping):
        src.problem(path, "a VIP group must be a mapping", "give it at least addresses: [...]")
        return None
    values.text(src, path, name, values.NAME, "VIP group name")
    if "auth_pass" in raw:
        src.problem(
            (*path, "auth_pass"),
            "secrets never go inline in the stack file",
            "put the password in a swarm secret and name it in auth_secret",
        )
    src.unknown_keys(path, {k: v for k, v in raw.items() if k != "auth_pass"}, VIP_KEYS)
    if "addresses" not in raw:
        src.problem((*path, "addresses"), "missing", "add addresses: [ADDRESS/PREFIX]")
    vrid = raw.get("vrid")
    group = VipGroup(
        name=name,
        addresses=_addresses(src, (*path, "addresses"), raw.get("addresses", [])),
        constraints=_constraints(src, (*path, "placement"), raw.get("placement")),
        vrid=values.integer(src, (*path, "vrid"), vrid, 1, 255) if vrid is not None else None,
        preemption=_preemption(src, (*path, "preemption"), raw.get("preemption")),
        preempt_delay=values.duration(
            src, (*path, "preempt_delay"), raw.get("preempt_delay", 0), maximum=MAX_PREEMPT_DELAY
        )
        or 0.0,
        timers=_timers(src, (*path, "timers"), raw.get("timers")),
        checks=parse_checks(src, (*path, "checks"), raw.get("checks")),
        notify=parse_notify(src, (*path, "notify"), raw.get("notify")),
        auth_secret=(
            values.text(
                src, (*path, "auth_secret"), raw["auth_secret"], values.SECRET_NAME, "secret name"
            )
            if "auth_secret" in raw
            else None
        ),
        options=InstanceOptions(
            garp=parse_garp(src, (*path, "garp"), raw.get("garp")),
            track_interfaces=parse_track_interfaces(
                src, (*path, "track_interfaces"), raw.get("track_interfaces")
            ),
            interface=parse_interface(src, (*path, "interface"), raw.get("interface")),
        ),
    )
    _cross_checks(src, path, group, raw)
    return group


__all__ = ["TIMER_PRESETS", "HealthCheck", "parse_vip"]

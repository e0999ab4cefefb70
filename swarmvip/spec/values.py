"""Strict readers for single stack-file values: durations, integers, names, addresses. Pure.

Each returns the value or None after recording a problem on the Source; nothing loose passes.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any

from swarmvip.model import IPInterface
from swarmvip.spec.problems import Path, Source

NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
CHECK_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]{0,254}$")
# Durations: plain seconds (`2`, `0.5`), or compose's grammar, which is Go's time.ParseDuration:
# an optional sign, then one or more NUMBER UNIT parts (`1m30s`, `1h2m`, `1.5s`, `500ms`, `2us`).
_PLAIN_SECONDS = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_UNIT_NAMES = "ns|us|\u00b5s|\u03bcs|ms|s|m|h"  # Go accepts both micro signs
_GO_DURATION = re.compile(rf"^[-+]?(?:{_NUMBER}(?:{_UNIT_NAMES}))+$")
_GO_PART = re.compile(rf"({_NUMBER})({_UNIT_NAMES})")
_UNIT = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
MAX_DURATION_TEXT = 100  # a longer duration string is refused before any arithmetic
HOUR = 3600.0
# The characters ADDRESS/PREFIX is written with (the prefix may be a dotted netmask). No IPv6
# scope id (`%zone`: ipaddress accepts any text there, newlines and braces included), no space.
_ADDRESS_CHARS = re.compile(r"^[0-9A-Fa-f.:]+/[0-9.]+$")


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # an int too large for a float
            return None
    if not isinstance(value, str) or len(value) > MAX_DURATION_TEXT:
        return None
    text = value.strip()
    if _PLAIN_SECONDS.fullmatch(text):
        return float(text)
    if not _GO_DURATION.fullmatch(text):
        return None
    seconds = sum(float(n) * _UNIT[unit] for n, unit in _GO_PART.findall(text))
    return -seconds if text.startswith("-") else seconds


def duration(
    src: Source, path: Path, value: Any, *, minimum: float = 0.0, maximum: float = HOUR
) -> float | None:
    """Seconds from 2, 2.5, "2s", "500ms", "1m", "1m30s" (compose's grammar) within [minimum,
    maximum]; None (with a problem) otherwise. NaN and infinity (YAML `.nan`, `.inf`, `1e400`)
    are never a duration."""
    seconds = _seconds(value)
    if seconds is None or not math.isfinite(seconds) or not minimum <= seconds <= maximum:
        src.problem(
            path,
            f"{value!r} is not a duration of at least {minimum:g}s and at most {maximum:g}s",
            "write seconds like 2 or 0.5, or a duration like '2s', '500ms' or '1m30s'",
        )
        return None
    return seconds


def integer(src: Source, path: Path, value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        src.problem(
            path,
            f"{value!r} is not a whole number from {low} to {high}",
            f"use a number between {low} and {high}",
        )
        return None
    return value


def text(src: Source, path: Path, value: Any, pattern: re.Pattern[str], what: str) -> str | None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        src.problem(path, f"{value!r} is not a valid {what}", f"it must match {pattern.pattern}")
        return None
    return value


def argv(src: Source, path: Path, value: Any) -> tuple[str, ...] | None:
    """A command as a list of strings (never a shell line); no NUL or newline inside."""
    if isinstance(value, str):
        src.problem(
            path,
            "a command must be a list of arguments, not a shell string",
            f"write it as a list, e.g. {value.split()!r}",
        )
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(a, str) and a and not set(a) & {"\0", "\n", "\r"} for a in value)
    ):
        src.problem(
            path,
            "a command must be a non-empty list of strings",
            "e.g. ['/usr/local/bin/check', '--quiet']",
        )
        return None
    return tuple(value)


def vip_address(src: Source, path: Path, value: Any) -> IPInterface | None:
    """An IPv4/IPv6 host address with an explicit prefix, usable as a VIP."""
    if not isinstance(value, str) or "/" not in value:
        src.problem(
            path,
            f"{value!r} is not an address with a prefix",
            "write ADDRESS/PREFIX, e.g. 10.0.0.100/24 or fd00::100/64",
        )
        return None
    if "%" in value:
        src.problem(
            path,
            f"{value!r} has an IPv6 scope id (%...), which a VIP cannot have",
            "write ADDRESS/PREFIX without %ZONE; the interface comes from the node",
        )
        return None
    if not _ADDRESS_CHARS.fullmatch(value):
        src.problem(
            path,
            f"{value!r} is not a valid address: only hex digits, '.', ':' and one /PREFIX",
            "write ADDRESS/PREFIX without spaces, e.g. 10.0.0.100/24 or fd00::100/64",
        )
        return None
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError as exc:
        src.problem(path, f"{value!r} is not a valid address: {exc}", "e.g. 10.0.0.100/24")
        return None
    ip = iface.ip
    bad = ip.is_loopback or ip.is_multicast or ip.is_unspecified or ip.is_link_local
    if bad or (
        iface.network.num_addresses > 2
        and ip in (iface.network.network_address, iface.network.broadcast_address)
    ):
        src.problem(
            path,
            f"{value} cannot be a VIP (network, broadcast, loopback, multicast,"
            " link-local or unspecified address)",
            "pick a free host address",
        )
        return None
    return iface

"""Validate `checks:` of a VIP group: TCP, HTTP(S) and command health checks. Pure."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from swarmvip.model import CheckKind, HealthCheck
from swarmvip.spec import values
from swarmvip.spec.problems import Path, Source

CHECK_KEYS = (
    "name",
    "tcp",
    "http",
    "command",
    "expect_status",
    "interval",
    "timeout",
    "fall",
    "rise",
    "weight",
)
_HOST_PORT = re.compile(
    r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.\-]*):(?P<port>[0-9]{1,5})$"
)


def _tcp_target(src: Source, path: Path, raw: Any) -> str:
    match = _HOST_PORT.match(raw) if isinstance(raw, str) else None
    if not match or not 1 <= int(match["port"]) <= 65535:
        src.problem(path, f"{raw!r} is not HOST:PORT", "e.g. 127.0.0.1:5432 or [::1]:5432")
        return ""
    return str(raw)


def _http_target(src: Source, path: Path, raw: Any) -> str:
    url = urllib.parse.urlsplit(raw) if isinstance(raw, str) else None
    if (
        url is None
        or url.scheme not in ("http", "https")
        or not url.hostname
        or any(c in str(raw) for c in " \"'\n\r\t\\")
    ):
        src.problem(path, f"{raw!r} is not an http(s) URL", "e.g. http://127.0.0.1:8080/healthz")
        return ""
    return str(raw)


def _kind(src: Source, path: Path, raw: Mapping[str, Any]) -> CheckKind | None:
    kinds = [k for k in ("tcp", "http", "command") if k in raw]
    if len(kinds) != 1:
        src.problem(
            path,
            "a check needs exactly one of tcp, http, command",
            "e.g. {name: web, http: 'http://127.0.0.1/healthz'}",
        )
        return None
    return CheckKind(kinds[0])


def _timing(src: Source, path: Path, raw: Mapping[str, Any]) -> dict[str, Any]:
    interval = values.duration(
        src, (*path, "interval"), raw.get("interval", 2), minimum=0.05, maximum=values.HOUR
    )
    timeout = values.duration(
        src, (*path, "timeout"), raw.get("timeout", 1), minimum=0.01, maximum=values.HOUR
    )
    if interval is not None and timeout is not None and timeout > interval:
        src.problem(
            (*path, "timeout"),
            "timeout is longer than interval",
            "make timeout at most the interval",
        )
    return {
        "interval": interval or 2.0,
        "timeout": timeout or 1.0,
        "fall": values.integer(src, (*path, "fall"), raw.get("fall", 2), 1, 100) or 1,
        "rise": values.integer(src, (*path, "rise"), raw.get("rise", 2), 1, 100) or 1,
    }


def parse_check(src: Source, path: Path, raw: Any) -> HealthCheck | None:
    if not isinstance(raw, Mapping):
        src.problem(path, "a check must be a mapping", "e.g. {name: db, tcp: '127.0.0.1:5432'}")
        return None
    src.unknown_keys(path, raw, CHECK_KEYS)
    name = values.text(src, (*path, "name"), raw.get("name"), values.CHECK_NAME, "check name")
    kind = _kind(src, path, raw)
    status = values.integer(src, (*path, "expect_status"), raw.get("expect_status", 200), 100, 599)
    weight = values.integer(src, (*path, "weight"), raw.get("weight", -50), -254, 254)
    target: str = ""
    argv: tuple[str, ...] = ()
    if kind is CheckKind.TCP:
        target = _tcp_target(src, (*path, "tcp"), raw["tcp"])
    elif kind is CheckKind.HTTP:
        target = _http_target(src, (*path, "http"), raw["http"])
    elif kind is CheckKind.COMMAND:
        argv = values.argv(src, (*path, "command"), raw["command"]) or ()
    if name is None or kind is None:
        return None
    return HealthCheck(
        name=name,
        kind=kind,
        target=target,
        argv=argv,
        expect_status=status or 200,
        weight=weight if weight is not None else -50,
        **_timing(src, path, raw),
    )


def parse_checks(src: Source, path: Path, raw: Any) -> tuple[HealthCheck, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        src.problem(path, "checks must be a list", "checks: [{name: web, http: ...}]")
        return ()
    checks = tuple(c for i, item in enumerate(raw) if (c := parse_check(src, (*path, i), item)))
    names = [c.name for c in checks]
    for dup in {n for n in names if names.count(n) > 1}:
        src.problem(path, f"check name {dup!r} is used twice", "give each check its own name")
    return checks

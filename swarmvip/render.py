"""Renders keepalived.conf for one node plan: the only module that uses Jinja2.

Values reach the template only from validated model types; StrictUndefined makes a missing
value an error instead of an empty string. Defence in depth: every substituted value must
match SAFE_VALUE, so even a value that validation missed can never carry keepalived syntax
(whitespace, newline, braces, quotes, comment signs).
"""

from __future__ import annotations

import re
from functools import cache

import jinja2

from swarmvip import __version__
from swarmvip.errors import ConfigError, Problem
from swarmvip.model import HealthCheck, InstancePlan, NodePlan
from swarmvip.wire import paths

# Numbers, addresses (ADDRESS/PREFIX), names, paths, `$SWARMVIP_*` parameters, the version.
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:/$+-]+$")


class RenderError(ConfigError):
    """A value to be rendered is outside SAFE_VALUE; nothing is rendered (exit 2)."""


class _UnsafeValue(Exception):
    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


def _finalize(value: object) -> object:
    """Jinja's hook on every `{{ ... }}` output: refuse anything outside SAFE_VALUE."""
    if not SAFE_VALUE.fullmatch(str(value)):
        raise _UnsafeValue(str(value))
    return value


def fmt_seconds(value: float) -> str:
    """keepalived TIMER syntax: '1' or '0.1', never '1.0' or exponent notation."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def vip_dev(inst: InstancePlan) -> str:
    """The `dev` of a group's VIPs: the VRRP interface, or the group's own (the agent defines
    both parameters; VRRP adverts stay on the VRRP interface either way)."""
    if inst.options.interface is None:
        return "$" + paths.IFACE_PARAM
    return "$" + paths.vip_iface_param(inst.group)


def garp_lines(inst: InstancePlan) -> list[tuple[str, int]]:
    """keepalived's garp_master_* keywords for the values the stack file sets (else its
    defaults)."""
    garp = inst.options.garp
    return [
        (f"garp_master_{key}", value)
        for key, value in (
            ("delay", garp.delay),
            ("repeat", garp.repeat),
            ("refresh", garp.refresh),
            ("refresh_repeat", garp.refresh_repeat),
        )
        if value is not None
    ]


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("swarmvip", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # keepalived.conf is not HTML; inputs are validated instead
        finalize=_finalize,
    )
    env.globals.update(
        fmt_seconds=fmt_seconds,
        track_name=lambda i, c: paths.track_name(i.group, c.name),
        track_path=lambda i, c, d=paths.TRACK_DIR: paths.track_path(i.group, c.name, d),
        priority_track_name=lambda i: paths.priority_track_name(i.group),
        priority_track_path=lambda i, d=paths.TRACK_DIR: paths.priority_track_path(i.group, d),
        auth_param=lambda i: "$" + paths.auth_param(i.group),
        vip_dev=vip_dev,
        garp_lines=garp_lines,
    )
    return env


def render_keepalived(
    node: NodePlan,
    stack: str,
    notify_fifo: str = paths.NOTIFY_FIFO,
    track_dir: str = paths.TRACK_DIR,
) -> str:
    """keepalived.conf text for one node; $SWARMVIP_* parameters are left for the agent.

    RenderError if any value is outside SAFE_VALUE (validation should have refused it).
    """
    template = _environment().get_template("keepalived.conf.j2")
    try:
        return template.render(
            node=node,
            stack=stack,
            version=__version__,
            paths={"notify_fifo": notify_fifo, "track_dir": track_dir},
        )
    except _UnsafeValue as exc:
        raise RenderError(
            [
                Problem(
                    file=f"keepalived.conf of node {node.node_id[:25]!r}",
                    key="(render)",
                    message=(
                        f"refusing to render {exc.value!r}: a rendered value may hold only"
                        " letters, digits and _ . : / $ + -"
                    ),
                    fix="fix the node's hostname or labels, the stack name or the stack file",
                )
            ]
        ) from None


__all__ = ["HealthCheck", "InstancePlan", "RenderError", "render_keepalived"]

"""Renders keepalived.conf for one node plan: the only module that uses Jinja2.

Values reach the template only from validated model types; StrictUndefined makes a missing
value an error instead of an empty string.
"""

from __future__ import annotations

from functools import cache

import jinja2

from swarmvip import __version__, paths
from swarmvip.model import HealthCheck, InstancePlan, NodePlan


def fmt_seconds(value: float) -> str:
    """keepalived TIMER syntax: '1' or '0.1', never '1.0' or exponent notation."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("swarmvip", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # keepalived.conf is not HTML; inputs are validated instead
    )
    env.globals.update(
        fmt_seconds=fmt_seconds,
        track_name=lambda i, c: paths.track_name(i.group, c.name),
        track_path=lambda i, c, d=paths.TRACK_DIR: paths.track_path(i.group, c.name, d),
        auth_param=lambda i: "$" + paths.auth_param(i.group),
    )
    return env


def render_keepalived(
    node: NodePlan,
    stack: str,
    notify_fifo: str = paths.NOTIFY_FIFO,
    track_dir: str = paths.TRACK_DIR,
) -> str:
    """keepalived.conf text for one node; $SWARMVIP_* parameters are left for the agent."""
    template = _environment().get_template("keepalived.conf.j2")
    return template.render(
        node=node,
        stack=stack,
        version=__version__,
        paths={"notify_fifo": notify_fifo, "track_dir": track_dir},
    )


__all__ = ["HealthCheck", "InstancePlan", "render_keepalived"]

"""No injection by construction: arbitrary text on every path that reaches keepalived.conf.

Each path (node labels, node hostname and address, stack name, group, check and secret names,
VIP addresses) gets arbitrary text: newlines, braces, quotes, `%` scope ids, `#`, unicode. The
outcome must be either a clean refusal (ConfigError, exit 2) or configs with exactly the
keyword structure of the configs rendered from benign values. The keepalived -t test shows why
it matters: keepalived parses the audit's payload as real directives, so only swarmvip's
refusal stands between a label writer and root on every member.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from swarmvip.errors import ConfigError, ExitCode
from swarmvip.model import Node, StackSpec
from swarmvip.plan.build import build_plan
from swarmvip.render import _environment, render_keepalived
from swarmvip.spec.stackfile import parse_stack

from .builders import node

# The audit's payloads (AUDIT-2 #1 repro r1b_scope.py, #18).
SCOPE_PAYLOAD = (
    "fd00::12%x\n    }\n"
    '    notify_backup "python3 -c \'exec(bytes.fromhex(\\"41\\"))\'"\n'
    "    unicast_peer {\n        fd00::13"
)
HOSTNAME_PAYLOAD = 'n1\n    notify "touch x"\n}\nglobal_defs {'

KEYWORD = re.compile(r"[a-z_]+|[{}#]")


def structure(conf: str) -> list[str]:
    """The first token of every line when it is a keyword (values shown as <value>)."""
    out = []
    for line in conf.split("\n"):
        words = line.split()
        first = words[0] if words else ""
        out.append(first if not first or KEYWORD.fullmatch(first) else "<value>")
    return out


def _doc(
    group: str = "web",
    address: str = "10.213.0.100/24",
    check: str = "alive",
    secret: str = "vrrp",
) -> dict[str, Any]:
    """An IPv4 group (VRRPv2 with auth and a check) and an IPv6 group."""
    return {
        "secrets": {secret: {"external": True}},
        "x-swarmvip": {
            "vips": {
                group: {
                    "addresses": [address],
                    "timers": "compat",
                    "auth_secret": secret,
                    "checks": [{"name": check, "tcp": "127.0.0.1:80"}],
                },
                "six": {"addresses": ["fd00::100/64"], "vrid": 77},
            }
        },
    }


def _nodes(**labels: str) -> list[Node]:
    """Three dual-stack members; `labels` go on node2 (keys with __ for dots)."""
    out = []
    for i in (1, 2, 3):
        base = node(f"node{i}", f"10.213.0.{10 + i}", **(labels if i == 2 else {}))
        given = dict(base.labels)
        given.setdefault("swarmvip.unicast6", f"fd00::{10 + i}")
        out.append(dataclasses.replace(base, labels=tuple(sorted(given.items()))))
    return out


@cache
def _benign_spec() -> StackSpec:
    return _parse(_doc())


def _parse(doc: dict[str, Any]) -> StackSpec:
    return parse_stack(yaml.safe_dump(doc, sort_keys=False), "stack.yml")


def outcome(
    nodes: list[Node], stack: str = "s", doc: dict[str, Any] | None = None
) -> list[list[str]] | None:
    """Sorted per-node structures of the rendered configs, or None for a clean refusal."""
    try:
        spec = _parse(doc) if doc is not None else _benign_spec()
        plan = build_plan(spec, stack, nodes)
        return sorted(structure(render_keepalived(n, stack)) for n in plan.nodes)
    except ConfigError as exc:
        assert exc.exit_code == ExitCode.USAGE
        return None


BENIGN = outcome(_nodes())

TEXT = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=" \t\n\r{}\"'#!%$/.:-_aZ09\u00e9\u2028\x00", max_size=60),
    st.builds(
        lambda base, sep, tail: base + sep + tail,
        st.sampled_from(["fd00::12", "10.213.0.12", "node2", "200", "eth0", "true", "web"]),
        st.sampled_from(["%", "\n", " ", "}", "{", '"', "#", "%x\n}\n"]),
        st.text(max_size=40),
    ),
)
FAST = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _with_hostname(text: str) -> list[Node]:
    nodes = _nodes()
    nodes[1] = dataclasses.replace(nodes[1], hostname=text)
    return nodes


def _unicast_only(text: str) -> list[Node]:
    """node2 without swarmvip.unicast6: its IPv6 group address comes from swarmvip.unicast."""
    nodes = _nodes(swarmvip__unicast=text)
    kept = tuple(kv for kv in nodes[1].labels if kv[0] != "swarmvip.unicast6")
    nodes[1] = dataclasses.replace(nodes[1], labels=kept)
    return nodes


def _with_addr(text: str) -> list[Node]:
    nodes = _nodes()
    nodes[1] = dataclasses.replace(nodes[1], addr=text)
    return nodes


PATHS: dict[str, Callable[[str], list[list[str]] | None]] = {
    "label priority": lambda t: outcome(_nodes(swarmvip__priority=t)),
    "label priority.group": lambda t: outcome(_nodes(swarmvip__priority__web=t)),
    "label priority.<key>": lambda t: outcome(_nodes(**{"swarmvip__priority__" + t: "100"})),
    "label interface": lambda t: outcome(_nodes(swarmvip__interface=t)),
    "label unicast": lambda t: outcome(_nodes(swarmvip__unicast=t)),
    "label unicast6": lambda t: outcome(_nodes(swarmvip__unicast6=t)),
    "label unicast (for IPv6)": lambda t: outcome(_unicast_only(t)),
    "label drain": lambda t: outcome(_nodes(swarmvip__drain=t)),
    "node hostname": lambda t: outcome(_with_hostname(t)),
    "node address": lambda t: outcome(_with_addr(t)),
    "stack name": lambda t: outcome(_nodes(), stack=t),
    "group name": lambda t: outcome(_nodes(), doc=_doc(group=t)),
    "vip address": lambda t: outcome(_nodes(), doc=_doc(address=t)),
    "check name": lambda t: outcome(_nodes(), doc=_doc(check=t)),
    "auth secret name": lambda t: outcome(_nodes(), doc=_doc(secret=t)),
}


def test_benign_values_render() -> None:
    assert BENIGN is not None and len(BENIGN) == 3
    assert outcome(_nodes(swarmvip__unicast6="fd00::99")) == BENIGN
    assert outcome(_unicast_only("fd00::99")) == BENIGN
    assert {"vrrp_instance", "unicast_peer", "authentication", "track_file"} <= set(BENIGN[0])


@pytest.mark.parametrize("path", sorted(PATHS))
@FAST
@given(text=TEXT)
@example(text=SCOPE_PAYLOAD)
@example(text=HOSTNAME_PAYLOAD)
@example(text="fd00::12%x y")
def test_arbitrary_text_is_refused_or_changes_no_structure(path: str, text: str) -> None:
    result = PATHS[path](text)
    assert result is None or result == BENIGN, f"{path} = {text!r} changed the config structure"


# --- keepalived itself is no safety net ---------------------------------------------------------


def _keepalived_t(netns: str, conf: str, tmp_path: Path) -> str:
    (tmp_path / "keepalived.conf").write_text(conf)
    wrapper = tmp_path / "wrapper.conf"
    wrapper.write_text(
        f"$SWARMVIP_IFACE=eth0\n$SWARMVIP_AUTH_WEB=s3cret\ninclude {tmp_path / 'keepalived.conf'}\n"
    )
    result = subprocess.run(
        ["ip", "netns", "exec", netns, "keepalived", "-t", "-f", str(wrapper)],
        capture_output=True,
        text=True,
        check=False,
    )
    return f"rc={result.returncode}\n{result.stdout}{result.stderr}"


def _unguarded(plan: Any, stack: str = "s") -> str:
    """The template rendered without the renderer's finalize guard (what the audit saw)."""
    env = _environment().overlay(finalize=None)
    return env.get_template("keepalived.conf.j2").render(
        node=plan,
        stack=stack,
        version="0",
        paths={"notify_fifo": "/run/swarmvip/notify.fifo", "track_dir": "/run/swarmvip/track"},
    )


@pytest.mark.netns
def test_benign_config_passes_keepalived(netns: str, tmp_path: Path) -> None:
    plan = build_plan(_benign_spec(), "s", _nodes())
    report = _keepalived_t(netns, render_keepalived(plan.nodes[0], "s"), tmp_path)
    assert report.startswith("rc=0\n"), report
    assert "WARNING" not in report and "Unknown keyword" not in report, report


@pytest.mark.netns
def test_audit_scope_payload_is_refused_though_keepalived_would_take_it(
    netns: str, tmp_path: Path
) -> None:
    """AUDIT-2 #1: keepalived -t parses the injected notify_backup as configuration."""
    assert outcome(_nodes(swarmvip__unicast6=SCOPE_PAYLOAD)) is None  # nothing is rendered

    # node1's config as it was rendered before the fix (no validation, no render guard):
    plan = build_plan(_benign_spec(), "s", _nodes()).nodes[0]
    six = next(i for i in plan.instances if i.group == "six")
    evil = dataclasses.replace(six, peers=(SCOPE_PAYLOAD, *six.peers[1:]))
    plan = dataclasses.replace(
        plan, instances=tuple(evil if i is six else i for i in plan.instances)
    )
    conf = _unguarded(plan)
    assert "\n    notify_backup " in conf  # the payload is a directive line of its own
    report = _keepalived_t(netns, conf, tmp_path)
    assert "malformed unicast peer address[fd00::12%x]" in report, report
    assert "Unknown keyword 'notify_backup'" not in report, report  # taken as a real directive

    control = _keepalived_t(netns, conf.replace("notify_backup", "bogus_keyword"), tmp_path)
    assert "Unknown keyword 'bogus_keyword'" in control, control  # keepalived does check keywords

    with pytest.raises(ConfigError):
        render_keepalived(plan, "s")  # and the render guard refuses it too

"""No injection through the VIP-group knobs: arbitrary text in garp, track_interfaces,
interface and notify (args, timeout) is either a clean refusal (ConfigError, exit 2) or leaves
the rendered configs with exactly the keyword structure of the benign ones (the style of
test_injection.py, whose strategies and structure function are reused)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import example, given

from swarmvip.errors import ConfigError, ExitCode
from swarmvip.render import render_keepalived
from swarmvip.spec.stackfile import parse_stack

from .knobs_plan import planned
from .test_injection import FAST, HOSTNAME_PAYLOAD, SCOPE_PAYLOAD, TEXT, structure


def _doc(
    delay: Any = 2,
    repeat: Any = 3,
    refresh: Any = 60,
    refresh_repeat: Any = 2,
    tracked: Any = "eth1",
    weighted: Any = "eth2",
    weight: Any = -20,
    interface: Any = "eth1",
    network: Any = "10.1.0.0/24",
    args: Any = "classic",
    timeout: Any = 30,
) -> dict[str, Any]:
    return {
        "x-swarmvip": {
            "vips": {
                "web": {
                    "addresses": ["10.213.0.100/24"],
                    "garp": {
                        "delay": delay,
                        "repeat": repeat,
                        "refresh": refresh,
                        "refresh_repeat": refresh_repeat,
                    },
                    "track_interfaces": [tracked, {"name": weighted, "weight": weight}],
                    "interface": interface,
                    "notify": {"master": ["/bin/true"], "args": args, "timeout": timeout},
                },
                "lan": {"addresses": ["10.1.0.100/24"], "interface": network},
            }
        }
    }


def knob_structure(conf: str) -> list[str]:
    """structure(), with the entries of a track_interface block shown as <value>: an interface
    name (`a`, `lan`) may look like a keyword there, a value all the same."""
    out, inside = [], False
    for token in structure(conf):
        if inside and token != "}":
            token = "<value>"
        inside = (inside and token != "}") or token == "track_interface"
        out.append(token)
    return out


def outcome(doc: dict[str, Any]) -> list[list[str]] | None:
    try:
        spec = parse_stack(yaml.safe_dump(doc, sort_keys=False), "stack.yml")
        plan = planned(spec, "s")
        return sorted(knob_structure(render_keepalived(n, "s")) for n in plan.nodes)
    except ConfigError as exc:
        assert exc.exit_code == ExitCode.USAGE
        return None


BENIGN = outcome(_doc())

PATHS: dict[str, Callable[[str], list[list[str]] | None]] = {
    "garp.delay": lambda t: outcome(_doc(delay=t)),
    "garp.repeat": lambda t: outcome(_doc(repeat=t)),
    "garp.refresh": lambda t: outcome(_doc(refresh=t)),
    "garp.refresh_repeat": lambda t: outcome(_doc(refresh_repeat=t)),
    "track_interfaces name": lambda t: outcome(_doc(tracked=t)),
    "track_interfaces {name}": lambda t: outcome(_doc(weighted=t)),
    "track_interfaces {weight}": lambda t: outcome(_doc(weight=t)),
    "interface (name)": lambda t: outcome(_doc(interface=t)),
    "interface (network)": lambda t: outcome(_doc(network=t)),
    "notify.args": lambda t: outcome(_doc(args=t)),
    "notify.timeout": lambda t: outcome(_doc(timeout=t)),
}


def test_benign_knobs_render() -> None:
    assert BENIGN is not None and len(BENIGN) == 3
    assert {"garp_master_delay", "track_interface", "virtual_ipaddress"} <= set(BENIGN[0])
    assert outcome(_doc(interface="10.1.0.0/24", network="eth3")) == BENIGN


@pytest.mark.parametrize("path", sorted(PATHS))
@FAST
@given(text=TEXT)
@example(text=SCOPE_PAYLOAD)
@example(text=HOSTNAME_PAYLOAD)
@example(text="eth1\n    notify_master /bin/sh")
@example(text="eth1 weight 5 }\n}\nglobal_defs {")
@example(text="10.1.0.0/24%x\n}")
@example(text="5\n    notify /tmp/x")
def test_arbitrary_text_in_a_knob_is_refused_or_changes_no_structure(path: str, text: str) -> None:
    result = PATHS[path](text)
    assert result is None or result == BENIGN, f"{path} = {text!r} changed the config structure"


@pytest.mark.parametrize(
    "bad",
    ["eth1\n}", "eth1 }", 'eth"1', "eth1#x", "$SWARMVIP_IFACE", "eth1{", "a" * 16],
)
def test_an_interface_that_could_inject_is_refused_everywhere(bad: str) -> None:
    for path in ("track_interfaces name", "track_interfaces {name}", "interface (name)"):
        assert PATHS[path](bad) is None, (path, bad)


def test_the_render_guard_still_stands_behind_validation() -> None:
    """A value validation missed (built by hand) is refused by the renderer, not rendered."""
    from swarmvip.model import TrackedInterface

    spec = parse_stack(yaml.safe_dump(_doc(), sort_keys=False), "stack.yml")
    node = planned(spec, "s").nodes[0]
    inst = node.instances[0]
    evil = dataclasses.replace(
        inst,
        options=dataclasses.replace(
            inst.options, track_interfaces=(TrackedInterface("eth1\n}\nglobal_defs {"),)
        ),
    )
    with pytest.raises(ConfigError):
        render_keepalived(dataclasses.replace(node, instances=(evil,)), "s")

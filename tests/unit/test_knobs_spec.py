"""Validation of the VIP-group knobs: garp, track_interfaces, interface, notify args/timeout.

Every bad value is a problem naming the file, the key path and a fix; the stored spec document
gives the same group back; the editor schema says what the validator says.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from swarmvip.errors import ConfigError
from swarmvip.model import Garp, HookArgs, TrackedInterface, VipInterface
from swarmvip.spec import vipknobs
from swarmvip.spec.specdoc import spec_document
from swarmvip.spec.stackfile import dump_document, parse_stack

from .knobs_plan import knobs_spec

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schema" / "x-swarmvip.schema.json").read_text())
DEFS = SCHEMA["$defs"]


def group(extra: str) -> str:
    return "x-swarmvip: {vips: {w: {addresses: [10.0.0.100/24], " + extra + "}}}\n"


def parsed(extra: str) -> Any:
    return parse_stack(group(extra), "k.yml").groups[0]


def test_every_knob_parses() -> None:
    web, lan, dmz = knobs_spec().groups
    assert web.options.garp == Garp(delay=2, repeat=3, refresh=60, refresh_repeat=2)
    assert web.options.track_interfaces == (
        TrackedInterface("eth1"),
        TrackedInterface("eth2", -20),
    )
    assert web.notify.args is HookArgs.CLASSIC and web.notify.timeout == 30.0
    assert lan.options.interface == VipInterface(network=ipaddress.ip_network("10.1.0.0/24"))
    assert dmz.options.interface == VipInterface(name="eth2")
    assert dmz.options.garp == Garp(delay=0)


def test_absent_knobs_keep_keepalived_defaults_and_todays_hooks() -> None:
    g = parsed("notify: {master: [/bin/true]}")
    assert g.options.garp == Garp() and g.options.track_interfaces == ()
    assert g.options.interface is None
    assert g.notify.args is HookArgs.NONE and g.notify.timeout == 10.0


def test_durations_use_compose_grammar() -> None:
    g = parsed("garp: {delay: 1m, refresh: 1h}, notify: {timeout: 1m30s}")
    assert (g.options.garp.delay, g.options.garp.refresh, g.notify.timeout) == (60, 3600, 90.0)
    assert parsed("interface: 'fd00:1::/64'").options.interface.network.version == 6


# (id, extra group text, key path fragment, message-or-fix fragment)
BAD = [
    ("garp-not-mapping", "garp: 5", "vips.w.garp", "must be a mapping"),
    ("garp-unknown", "garp: {dealy: 5}", "vips.w.garp.dealy", "did you mean 'delay'"),
    ("garp-fraction", "garp: {delay: 1.5}", "vips.w.garp.delay", "whole number of seconds"),
    ("garp-ms", "garp: {delay: 500ms}", "vips.w.garp.delay", "whole number of seconds"),
    ("garp-delay-big", "garp: {delay: 7200}", "vips.w.garp.delay", "at most 3600s"),
    ("garp-delay-2h", "garp: {delay: 2h}", "vips.w.garp.delay", "at most 3600s"),
    ("garp-delay-neg", "garp: {delay: -1}", "vips.w.garp.delay", "at least 0s"),
    ("garp-repeat-0", "garp: {repeat: 0}", "vips.w.garp.repeat", "from 1 to 100"),
    ("garp-repeat-str", "garp: {repeat: '5'}", "vips.w.garp.repeat", "from 1 to 100"),
    ("garp-refresh-big", "garp: {refresh: 2d}", "vips.w.garp.refresh", "not a duration"),
    ("garp-rr-alone", "garp: {refresh_repeat: 2}", "garp.refresh_repeat", "no effect"),
    ("garp-rr-zero", "garp: {refresh: 0, refresh_repeat: 2}", "refresh_repeat", "no effect"),
    ("garp-injection", "garp: {delay: '5\\n}'}", "vips.w.garp.delay", "not a duration"),
    ("track-not-list", "track_interfaces: eth1", "vips.w.track_interfaces", "must be a list"),
    ("track-bad-name", "track_interfaces: ['eth 1']", "track_interfaces[0]", "interface name"),
    ("track-brace", "track_interfaces: ['eth1}']", "track_interfaces[0]", "interface name"),
    ("track-long", "track_interfaces: [abcdefghijklmnop]", "track_interfaces[0]", "at most 15"),
    ("track-slash", "track_interfaces: [a/b]", "track_interfaces[0]", "interface name"),
    ("track-dot", "track_interfaces: ['.']", "track_interfaces[0]", "interface name"),
    ("track-number", "track_interfaces: [5]", "track_interfaces[0]", "a name or {name"),
    ("track-no-name", "track_interfaces: [{weight: 2}]", "track_interfaces[0].name", "missing"),
    ("track-weight", "track_interfaces: [{name: e, weight: 254}]", "[0].weight", "-253 to 253"),
    ("track-weight-b", "track_interfaces: [{name: e, weight: true}]", "[0].weight", "-253"),
    ("track-key", "track_interfaces: [{name: e, wieght: 2}]", "[0].wieght", "did you mean"),
    ("track-twice", "track_interfaces: [eth1, {name: eth1}]", "track_interfaces", "twice"),
    (
        "track-sticky",
        "preemption: sticky, track_interfaces: [{name: eth1, weight: -20}]",
        "track_interfaces[0].weight",
        "under sticky",
    ),
    ("iface-bad", "interface: 'eth1\\n'", "vips.w.interface", "not an interface name"),
    ("iface-quote", "interface: 'eth\"1'", "vips.w.interface", "not an interface name"),
    ("iface-number", "interface: 5", "vips.w.interface", "not an interface name"),
    ("iface-list", "interface: [eth1]", "vips.w.interface", "not an interface name"),
    ("iface-hostbits", "interface: 10.1.0.5/24", "vips.w.interface", "host bits"),
    ("iface-zero", "interface: 0.0.0.0/0", "vips.w.interface", "every interface"),
    ("iface-scope", "interface: 'fd00::/64%eth0'", "vips.w.interface", "not a network"),
    ("iface-space", "interface: '10.1.0.0/24 dev x'", "vips.w.interface", "not a network"),
    ("notify-args", "notify: {args: positional}", "vips.w.notify.args", "classic"),
    ("notify-args-list", "notify: {args: [classic]}", "vips.w.notify.args", "classic"),
    ("notify-timeout-0", "notify: {timeout: 0.5}", "vips.w.notify.timeout", "at least 1s"),
    ("notify-timeout-big", "notify: {timeout: 3600}", "vips.w.notify.timeout", "at most 600s"),
    ("notify-timeout-1h", "notify: {timeout: 1h}", "vips.w.notify.timeout", "at most 600s"),
    ("notify-unknown", "notify: {timout: 5}", "vips.w.notify.timout", "did you mean 'timeout'"),
]


@pytest.mark.parametrize("case", BAD, ids=lambda c: c[0])
def test_bad_knobs_are_clear_problems(case: tuple[str, str, str, str]) -> None:
    _, extra, key, text = case
    with pytest.raises(ConfigError) as caught:
        parse_stack(group(extra), "bad.yml")
    problems = caught.value.problems
    assert any(
        p.file == "bad.yml" and key in p.key and text in p.message + " " + p.fix and p.fix
        for p in problems
    ), problems


# A schema cannot bound a duration written as a string ("2h"): only the validator judges those.
SCHEMA_ALSO_REFUSES = {
    "garp-not-mapping",
    "garp-unknown",
    "garp-delay-big",
    "garp-delay-neg",
    "garp-repeat-0",
    "garp-repeat-str",
    "garp-injection",
    "track-not-list",
    "track-bad-name",
    "track-brace",
    "track-long",
    "track-slash",
    "track-dot",
    "track-number",
    "track-no-name",
    "track-weight",
    "track-weight-b",
    "track-key",
    "track-sticky",
    "iface-bad",
    "iface-quote",
    "iface-number",
    "iface-list",
    "iface-scope",
    "iface-space",
    "notify-args",
    "notify-args-list",
    "notify-timeout-0",
    "notify-timeout-big",
    "notify-unknown",
}


@pytest.mark.parametrize(
    "case", [c for c in BAD if c[0] in SCHEMA_ALSO_REFUSES], ids=lambda c: c[0]
)
def test_the_schema_refuses_them_too(case: tuple[str, str, str, str]) -> None:
    doc = yaml.safe_load(group(case[1]))
    assert not Draft202012Validator(SCHEMA).is_valid(doc["x-swarmvip"]), case[0]


def test_the_schema_accepts_the_knobs_stack() -> None:
    doc = yaml.safe_load(knobs_spec.__defaults__[0])  # type: ignore[index]
    assert list(Draft202012Validator(SCHEMA).iter_errors(doc["x-swarmvip"])) == []


def test_schema_levels_and_bounds_follow_the_validator() -> None:
    assert tuple(DEFS["garp"]["properties"]) == vipknobs.GARP_KEYS
    assert tuple(DEFS["trackedInterface"]["properties"]) == vipknobs.TRACK_KEYS
    assert tuple(DEFS["notify"]["properties"]) == vipknobs.NOTIFY_KEYS
    for level in ("garp", "trackedInterface"):
        assert DEFS[level]["additionalProperties"] is False
        assert all(
            p.get("description") or p.get("$ref") for p in DEFS[level]["properties"].values()
        )
    garp = DEFS["garp"]["properties"]
    assert garp["delay"]["maximum"] == vipknobs.MAX_GARP_DELAY
    assert garp["refresh"]["maximum"] == vipknobs.MAX_GARP_REFRESH
    assert (
        garp["repeat"]["maximum"] == garp["refresh_repeat"]["maximum"] == vipknobs.MAX_GARP_REPEAT
    )
    weight = DEFS["trackedInterface"]["properties"]["weight"]
    assert weight["maximum"] == -weight["minimum"] == vipknobs.MAX_TRACK_WEIGHT
    assert DEFS["interfaceName"]["pattern"] == vipknobs.IFNAME.pattern
    timeout = DEFS["notify"]["properties"]["timeout"]
    assert (timeout["minimum"], timeout["maximum"]) == (
        vipknobs.MIN_HOOK_TIMEOUT,
        vipknobs.MAX_HOOK_TIMEOUT,
    )
    assert DEFS["notify"]["properties"]["args"]["enum"] == [a.value for a in HookArgs]
    assert SCHEMA["$defs"]["vipGroup"]["properties"]["track_interfaces"]["maxItems"] == (
        vipknobs.MAX_TRACKED
    )


def test_the_stored_spec_gives_the_knobs_back() -> None:
    original = knobs_spec()
    again = parse_stack(dump_document(spec_document(original, {})), "stored")
    assert again.groups == original.groups


def test_a_stack_without_knobs_stores_no_new_keys() -> None:
    spec = parse_stack(group("notify: {master: [/bin/true]}"), "k.yml")
    stored = spec_document(spec, {})["x-swarmvip"]["vips"]["w"]
    assert not {"garp", "track_interfaces", "interface"} & set(stored)
    assert stored["notify"] == {"master": ["/bin/true"]}

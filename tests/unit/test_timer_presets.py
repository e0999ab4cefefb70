"""The timer presets (`timers: compat | default | fast`) and the sub-preset advert interval the
README documents for those who accept its false failovers (`{advert_int: 0.04, version: 3}`):
what each means, how it renders, and that the real keepalived accepts it. Why there is no
faster preset: bench/results/presets.md (issue 13)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from swarmvip.errors import ConfigError
from swarmvip.model import Timers
from swarmvip.plan.build import build_plan
from swarmvip.render import render_keepalived
from swarmvip.spec.stackfile import parse_stack
from swarmvip.spec.vipspec import TIMER_PRESETS

from .builders import node

NODES = tuple(
    node(f"node{i}", f"10.213.0.{10 + i}", "manager" if i == 1 else "worker") for i in (1, 2, 3)
)
FASTER = "{advert_int: 0.04, version: 3}"  # measured in bench/results/presets.md, not a preset


def stack(timers: str, addresses: str = "10.213.0.100/24", extra: str = "") -> str:
    return (
        f"x-swarmvip:\n  vips:\n    web:\n      addresses: ['{addresses}']\n"
        f"      timers: {timers}\n{extra}"
    )


def configs(timers: str) -> dict[str, str]:
    plan = build_plan(parse_stack(stack(timers), "presets.yml"), "presets", NODES)
    return {n.hostname: render_keepalived(n, plan.stack) for n in plan.nodes}


def test_the_presets_are_the_measured_ones() -> None:
    """Each preset is in bench/results/presets.md with 0 false failovers under CPU pressure;
    a faster one (`advert 0.04`) had false failovers there, so it is no preset."""
    assert {
        "compat": Timers(advert_int=1.0, version=2),
        "default": Timers(advert_int=0.25, version=3),
        "fast": Timers(advert_int=0.1, version=3),
    } == TIMER_PRESETS


def test_vrrpv3_presets_are_whole_centiseconds() -> None:
    """VRRPv3 carries the interval in centiseconds (RFC 5798): an advert_int keepalived would
    have to round is not a preset."""
    for name, timers in TIMER_PRESETS.items():
        if timers.version == 3:
            centis = timers.advert_int * 100
            assert abs(centis - round(centis)) < 1e-9, name


@pytest.mark.parametrize(
    ("timers", "text"), [("default", "0.25"), ("fast", "0.1"), (FASTER, "0.04")]
)
def test_vrrpv3_timers_render_their_advert_interval(timers: str, text: str) -> None:
    for conf in configs(timers).values():
        assert f"    advert_int {text}\n" in conf
        assert "    version 3\n" in conf


def test_the_faster_interval_is_a_timers_mapping_not_a_preset() -> None:
    [group] = parse_stack(stack(FASTER), "presets.yml").groups
    assert group.timers == Timers(advert_int=0.04, version=3)
    with pytest.raises(ConfigError) as caught:
        parse_stack(stack("fastest"), "presets.yml")
    [problem] = caught.value.problems
    assert "unknown timer preset" in problem.message
    assert "compat, default, fast or {advert_int: SECONDS}" in problem.fix


@pytest.mark.netns
@pytest.mark.parametrize("timers", [*sorted(TIMER_PRESETS), FASTER])
def test_keepalived_accepts_every_preset(timers: str, netns: str, tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text("$SWARMVIP_IFACE=eth0\n" + configs(timers)["node1"])
    result = subprocess.run(
        ["ip", "netns", "exec", netns, "keepalived", "-t", "-f", str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "WARNING" not in result.stderr

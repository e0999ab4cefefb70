"""keepalived.conf rendering: golden files for the example stacks, and `keepalived -t` on each."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from swarmvip.plan.build import build_plan
from swarmvip.render import fmt_seconds, render_keepalived
from swarmvip.spec.stackfile import read_stack

from .builders import node

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden")
STACKS = sorted(p for p in (ROOT / "stacks").glob("*.yml") if "x-swarmvip:" in p.read_text())
LABELS = {"edge": "true", "proxy": "true", "db": "true", "web": "true"}
NODES = tuple(
    node(f"node{i}", f"10.213.0.{10 + i}", "manager" if i == 1 else "worker", **LABELS)
    for i in (1, 2, 3)
)


def rendered(stack_file: Path) -> dict[str, str]:
    spec = read_stack(str(stack_file))
    plan = build_plan(spec, stack_file.stem, NODES)
    return {n.hostname: render_keepalived(n, plan.stack) for n in plan.nodes}


def golden_cases() -> list[tuple[Path, str]]:
    return [(f, host) for f in STACKS for host in ("node1", "node3")]


@pytest.mark.parametrize(
    ("stack_file", "host"), golden_cases(), ids=[f"{f.stem}-{h}" for f, h in golden_cases()]
)
def test_render_matches_golden(stack_file: Path, host: str) -> None:
    text = rendered(stack_file)[host]
    golden = GOLDEN / f"{stack_file.stem}.{host}.conf"
    if os.environ.get("SWARMVIP_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


def test_timer_format() -> None:
    assert [fmt_seconds(v) for v in (1.0, 0.25, 0.1, 10.0, 0.015)] == [
        "1",
        "0.25",
        "0.1",
        "10",
        "0.015",
    ]


@pytest.mark.netns
@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("*.conf")), ids=lambda p: p.stem)
def test_keepalived_accepts_every_golden_config(golden: Path, netns: str, tmp_path: Path) -> None:
    wrapper = tmp_path / "wrapper.conf"
    wrapper.write_text(f"$SWARMVIP_IFACE=eth0\n$SWARMVIP_AUTH_API=s3cret\ninclude {golden}\n")
    result = subprocess.run(
        ["ip", "netns", "exec", netns, "keepalived", "-t", "-f", str(wrapper)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "WARNING" not in result.stderr


def test_golden_set_covers_every_example() -> None:
    assert len(list(GOLDEN.glob("*.conf"))) == len(golden_cases()) >= 8

"""SVG snapshots (pytest-textual-snapshot): frozen clock, fixed size, one poll, no blinking.

Regenerate after an intended change: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from swarmvip_tui.app import SwarmvipApp
from textual.pilot import Pilot

from tests.tui.fakes import FakeActions, FakeSource, World, frozen_clock
from tests.tui.pilot import until

SIZE = (120, 36)
Compare = Callable[..., bool]


def _app(holders: dict[str, tuple[str, ...]]) -> SwarmvipApp:
    world = World(hostnames=("node1", "node2", "node3", "node4"), groups=("web", "db"))
    world.tick({"web": ("node1",), "db": ("node2",)})
    world.tick({"web": (), "db": ("node2",)}, 0.2)
    world.tick({"web": ("node3",), "db": ("node2",)}, 0.25)
    world.tick({"web": ("node1", "node3"), "db": ("node2",)}, 0.5)
    world.tick({"web": ("node1",), "db": ("node2",)}, 0.1)
    source = FakeSource(world.tick(holders))
    return SwarmvipApp(
        source,
        FakeActions(),
        clock=frozen_clock,
        interval=3600.0,
        label="swarmvip · ssh://manager · stack lab",
    )


async def _first_poll(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, SwarmvipApp)
    await until(pilot, lambda: app.polls >= 1)


def test_normal(snap_compare: Compare) -> None:
    app = _app({"web": ("node1",), "db": ("node2",)})
    assert snap_compare(app, terminal_size=SIZE, run_before=_first_poll)


def test_split_brain_alarm(snap_compare: Compare) -> None:
    app = _app({"web": ("node1", "node3"), "db": ("node2",)})
    assert snap_compare(app, terminal_size=SIZE, run_before=_first_poll)


def test_confirm_drain(snap_compare: Compare) -> None:
    app = _app({"web": ("node1",), "db": ("node2",)})

    async def select_node1(pilot: Pilot[Any]) -> None:
        await _first_poll(pilot)
        pilot.app.query_one("#nodes").move_cursor(row=0)

    assert snap_compare(app, press=["d"], terminal_size=SIZE, run_before=select_node1)

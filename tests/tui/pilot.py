"""Helpers for Pilot tests: build the app on a World, wait for polls without sleeping blindly."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from swarmvip_tui.app import SwarmvipApp
from swarmvip_tui.tables import KeyedTable
from textual.pilot import Pilot
from textual.widgets import RichLog, Static

from tests.tui.fakes import FakeActions, FakeSource, World, frozen_clock


def make_app(
    world: World, actions: FakeActions | None = None, holders: tuple[str, ...] = ("node1",)
) -> tuple[SwarmvipApp, FakeSource]:
    world.tick({"web": holders})
    source = FakeSource(world.tick({"web": holders}))
    app = SwarmvipApp(source, actions, clock=frozen_clock, interval=0.1, label="swarmvip lab")
    return app, source


async def until(pilot: Pilot[None], cond: Callable[[], bool], limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.01)


async def next_polls(pilot: Pilot[None], app: SwarmvipApp, count: int = 2) -> None:
    """Wait until `count` more polls have been applied (so a source change is on screen)."""
    target = app.polls + count
    await until(pilot, lambda: app.polls >= target)


def text_of(app: SwarmvipApp, selector: str) -> str:
    widget = app.screen.query_one(selector, Static)
    content = widget.render()
    return content.plain if isinstance(content, Text) else str(content)


def table_text(app: SwarmvipApp, selector: str) -> list[str]:
    table = app.query_one(selector, KeyedTable)
    rows = []
    for index in range(table.row_count):
        cells = table.get_row_at(index)
        rows.append(" ".join(c.plain if isinstance(c, Text) else str(c) for c in cells))
    return rows


def log_text(app: SwarmvipApp, selector: str = "#events") -> str:
    log = app.screen.query_one(selector, RichLog)
    return "\n".join(strip.text for strip in log.lines)

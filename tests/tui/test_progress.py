"""A planned move in the TUI: while a writer holds the lease, the move the operator confirmed
shows as progress (a calm banner, STATE `moving`), not as an unexpected-holder alarm."""

from __future__ import annotations

from dataclasses import replace

from swarmvip.status.model import Observation
from tests.tui.fakes import FakeSource, World
from tests.tui.pilot import log_text, make_app, next_polls, table_text, text_of

WRITER = "drain@laptop"


def _moved(world: World, source: FakeSource, writer: str | None) -> Observation:
    """node2 holds web and node1 runs again, while the plan the fold sees still prefers node1
    (the drain's new priorities not yet in place)."""
    obs = replace(world.tick({"web": ("node2",)}), writer=writer)
    source.set(obs)
    return obs


async def test_a_move_in_progress_is_progress_not_an_alarm() -> None:
    world = World()
    app, source = make_app(world)
    async with app.run_test(size=(120, 36)) as pilot:
        await next_polls(pilot, app)
        running = world.deployed
        world.deployed = tuple(
            replace(d, task_state="starting") if d.plan.hostname == "node1" else d for d in running
        )
        source.set(replace(world.tick({"web": ("node1",)}), writer=WRITER))
        await next_polls(pilot, app)
        assert app.snapshot is not None and app.snapshot.alarms == ()
        assert not app.query_one("#alarm").display and app.query_one("#progress").display
        banner = text_of(app, "#progress")
        assert "drain@laptop is applying a planned change" in banner
        assert "lab/node1: keepalived task restarting, starting (drain@laptop applying)" in banner
        world.deployed = running
        _moved(world, source, WRITER)
        await next_polls(pilot, app)
        assert app.snapshot is not None and app.snapshot.alarms == ()
        assert not app.query_one("#alarm").display and app.query_one("#progress").display
        banner = text_of(app, "#progress")
        assert "lab/web: moving node2 → node1 (drain@laptop applying)" in banner
        assert "task" not in banner
        vip = table_text(app, "#vips")[0]
        assert "moving" in vip and "unexpected" not in vip
        log = log_text(app)
        assert "lab/web: moving node2 → node1" in log and "lab/node1: keepalived task" in log
        assert "unexpected-holder" not in log and "task-starting" not in log
        _moved(world, source, None)  # the writer is done, the holder did not come back: alarm
        await next_polls(pilot, app)
        assert not app.query_one("#progress").display
        assert "unexpected-holder lab/web" in text_of(app, "#alarm")


async def test_without_a_writer_the_same_states_are_alarms() -> None:
    world = World()
    app, source = make_app(world)
    async with app.run_test(size=(120, 36)) as pilot:
        await next_polls(pilot, app)
        running = world.deployed
        world.deployed = tuple(
            replace(d, task_state="starting") if d.plan.hostname == "node1" else d for d in running
        )
        source.set(world.tick({"web": ("node1",)}))
        await next_polls(pilot, app)
        assert app.query_one("#alarm").display and not app.query_one("#progress").display
        assert "task-starting lab/node1" in text_of(app, "#alarm")
        world.deployed = running
        _moved(world, source, None)
        await next_polls(pilot, app)
        assert "unexpected-holder lab/web" in text_of(app, "#alarm")
        assert "unexpected" in table_text(app, "#vips")[0]

"""The VIP table's PRIORITIES column: every member's priority, highest first."""

from __future__ import annotations

from swarmvip_tui.tables import VIP_COLUMNS, priorities_cell

from swarmvip.status.model import Member, VipStatus
from tests.tui.fakes import World
from tests.tui.pilot import make_app, table_text, until


def _vip(*members: Member) -> VipStatus:
    return VipStatus("lab", "web", ("10.0.0.1/24",), 51, "preferred", members, (), None, None, None)


def test_members_are_listed_by_priority_with_effective_and_unhealthy_marked() -> None:
    cell = priorities_cell(
        _vip(
            Member("node3", "id3", 230, 230, "BACKUP"),
            Member("node1", "id1", 250, 200, "BACKUP"),  # a failing check: 200 of 250
            Member("node2", "id2", 240, None, "FAULT"),
        )
    )
    assert cell.plain == "node1 200/250  node2 240!  node3 230"
    assert [str(span.style) for span in cell.spans] == ["yellow", "dim"]


async def test_the_vip_table_shows_each_members_priority() -> None:
    app, _ = make_app(World())
    async with app.run_test(size=(200, 36)) as pilot:
        await until(pilot, lambda: app.snapshot is not None)
        row = table_text(app, "#vips")[0]
        assert VIP_COLUMNS[-1] == "PRIORITIES"
        vip = app.snapshot.vips[0] if app.snapshot else None
        assert vip is not None and priorities_cell(vip).plain in row
        assert all(f"{m.hostname} {m.priority}" in row for m in vip.members)

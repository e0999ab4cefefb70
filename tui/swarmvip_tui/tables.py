"""VIP and node tables: rows computed purely from a Snapshot, applied cell by cell; the VIP
table shows each member's priority (highest first), so the expected holder is explained."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from swarmvip.present.status_view import ago, gap_text
from swarmvip.status.model import NodeStatus, Snapshot, VipStatus
from swarmvip.status.rules import HolderVerdict, holder_verdict, planned

Cell = str | Text
Row = tuple[str, tuple[Cell, ...]]  # (row key, cells)

VIP_COLUMNS = (
    "VIP",
    "ADDRESSES",
    "VRID",
    "HOLDER",
    "EXPECTED",
    "STATE",
    "SINCE",
    "LAST MOVE",
    "PRIORITIES",
)
NODE_COLUMNS = (
    "NODE",
    "ADDR",
    "ROLE",
    "AVAIL",
    "STATE",
    "TASK",
    "VRRP",
    "HOLDS",
    "IFACE",
    "REPORT",
)


STATE_CELL = {
    HolderVerdict.SPLIT_BRAIN: ("SPLIT BRAIN", "bold white on red"),
    HolderVerdict.NO_HOLDER: ("NO HOLDER", "bold white on red"),
    HolderVerdict.UNEXPECTED: ("unexpected", "bold yellow"),
    HolderVerdict.OK: ("ok", "green"),
}


MOVING_CELL = ("moving", "bold cyan")  # unexpected, while the writer of the lease moves it


def vip_state(v: VipStatus, writer: str | None = None) -> Text:
    verdict = holder_verdict(v)
    text, style = MOVING_CELL if planned(verdict.value, writer) else STATE_CELL[verdict]
    return Text(text, style=style)


def holder_cell(v: VipStatus) -> Text:
    if not v.holders:
        return Text("NONE", style="bold red")
    style = "bold black on green" if len(v.holders) == 1 else "bold white on red"
    return Text(",".join(v.holders), style=style)


def last_move(v: VipStatus) -> str:
    t = v.last_transition
    if t is None:
        return "-"
    return f"{','.join(t.before) or '∅'}→{','.join(t.after) or '∅'} {gap_text(t)}"


def priorities_cell(v: VipStatus) -> Text:
    """Each member's priority, highest first: `node1 250`; a member whose effective priority
    differs (a failing check) shows both, `node1 200/250`, and an unhealthy one (no fresh
    report, FAULT, down) is dimmed with a `!`."""
    text = Text()
    for m in sorted(v.members, key=lambda m: (-m.priority, m.hostname, m.node_id)):
        if text:
            text.append("  ")
        if m.effective_priority is None:
            text.append(f"{m.hostname} {m.priority}!", style="dim")
        elif m.effective_priority != m.priority:
            text.append(f"{m.hostname} {m.effective_priority}/{m.priority}", style="yellow")
        else:
            text.append(f"{m.hostname} {m.priority}")
    return text


def vip_rows(snap: Snapshot, now: float, needle: str = "") -> list[Row]:
    rows = []
    for v in snap.vips:
        name = str(v.key)
        cells: tuple[Cell, ...] = (
            name,
            ",".join(v.addresses),
            str(v.vrid),
            holder_cell(v),
            v.expected_holder or "-",
            vip_state(v, snap.writer),
            ago(v.since, now),
            last_move(v),
            priorities_cell(v),
        )
        if _matches(needle, (name, *v.addresses, *v.holders, *(m.hostname for m in v.members))):
            rows.append((name, cells))
    return rows


def _node_name(n: NodeStatus) -> Text:
    return Text(n.hostname, style="bold green" if n.holds else "")


def _avail(n: NodeStatus) -> Text:
    return Text(n.availability, style="bold yellow" if n.availability != "active" else "")


def _state(n: NodeStatus) -> Text:
    return Text(n.state, style="bold red" if n.state != "ready" else "")


def node_rows(snap: Snapshot, needle: str = "") -> list[Row]:
    rows = []
    for n in snap.nodes:
        vrrp = ",".join(s for _, s in n.vrrp_states) or "-"
        age = "-" if n.report_age is None else f"{n.report_age:.0f}s"
        cells: tuple[Cell, ...] = (
            _node_name(n),
            n.addr,
            n.role,
            _avail(n),
            _state(n),
            n.task_state,
            vrrp,
            ",".join(n.holds) or "-",
            n.interface or "-",
            age,
        )
        hay = (
            n.hostname,
            n.addr,
            n.role,
            n.availability,
            *n.holds,
            *(k for k, _ in n.vrrp_states),
            *(f"{k}={v}" for k, v in n.labels),
        )
        if _matches(needle, hay):
            rows.append((n.hostname, cells))
    return rows


def _matches(needle: str, hay: Sequence[str]) -> bool:
    return not needle or any(needle.lower() in h.lower() for h in hay)


class KeyedTable(DataTable[Cell]):
    """A DataTable fed whole row lists; unchanged rows cost nothing, the cursor keeps its row."""

    def __init__(self, columns: Sequence[str], *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", id=id)
        self._columns = tuple(columns)
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._order: list[str] = []

    def on_mount(self) -> None:
        for label in self._columns:
            self.add_column(label, key=label)

    @property
    def selected_key(self) -> str | None:
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def show_rows(self, rows: list[Row]) -> None:
        order = [key for key, _ in rows]
        if order == self._order:
            self._update_cells(rows)
            return
        selected = self.selected_key
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        self._order = order
        self._shown = dict(rows)
        if selected in self._shown:
            self.move_cursor(row=order.index(selected), animate=False)

    def _update_cells(self, rows: list[Row]) -> None:
        for key, cells in rows:
            old = self._shown[key]
            if old == cells:
                continue
            for label, before, after in zip(self._columns, old, cells, strict=True):
                if before != after:
                    self.update_cell(key, label, after, update_width=True)
            self._shown[key] = cells

"""Panels around the tables: the alarm and progress banners, the stale banner, the header line,
the event log."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog, Static

from swarmvip.status.model import Alarm, Snapshot
from swarmvip_tui.feed import Event, clock_text

LEVEL_STYLE = {
    "info": "",
    "move": "bold cyan",
    "alarm": "bold red",
    "warning": "yellow",
    "cleared": "green",
    "error": "magenta",
    "action": "bold",
    "progress": "cyan",
}


class Panel(Static):
    """A Static that repaints only when its text changes (polls repeat the same text)."""

    _shown: str | None = None

    def show_text(self, text: str) -> None:
        if text != self._shown:
            self._shown = text
            self.update(text)


class AlarmBanner(Panel):
    """Red, full width, at the top; hidden while there is no alarm."""

    def show_alarms(self, alarms: tuple[Alarm, ...]) -> None:
        self.display = bool(alarms)
        if not alarms:
            return
        critical = [a for a in alarms if a.severity == "critical"]
        self.set_class(not critical, "-warning")
        head = f"⚠ {len(critical)} ALARM(S)" if critical else f"⚠ {len(alarms)} WARNING(S)"
        lines = [f"{a.severity.upper()} {a.kind} {a.subject}: {a.message}" for a in alarms[:4]]
        if len(alarms) > 4:
            lines.append(f"… and {len(alarms) - 4} more")
        self.show_text(head + "\n" + "\n".join(lines))


class ProgressBanner(Panel):
    """Under the alarms, calm: the steps of the planned change a writer is applying (a VIP
    moving, a task restarting); hidden while there is none. Never an alarm."""

    def show_progress(self, writer: str | None, lines: tuple[str, ...]) -> None:
        self.display = bool(writer and lines)
        if not writer or not lines:
            return
        shown = [f"▸ {line}" for line in lines[:4]]
        if len(lines) > 4:
            shown.append(f"… and {len(lines) - 4} more")
        self.show_text(f"⟳ {writer} is applying a planned change\n" + "\n".join(shown))


class StaleBanner(Panel):
    """The manager cannot be reached: what is shown is old data."""

    def show_stale(self, since: float | None, data_at: float | None, error: str) -> None:
        self.display = since is not None
        if since is None:
            return
        shown = f"showing data from {clock_text(data_at)}" if data_at else "no data yet"
        self.show_text(f"STALE — manager unreachable since {clock_text(since)} — {shown}\n{error}")


class HeaderLine(Panel):
    """One line: what is watched and when the shown data was taken."""

    def show(self, title: str, snap: Snapshot | None, unavailable: str | None) -> None:
        when = clock_text(snap.generated_at) if snap else "waiting for the first poll…"
        counts = f"{len(snap.vips)} VIPs, {len(snap.nodes)} nodes" if snap else ""
        extra = f" | {unavailable}" if unavailable else ""
        self.show_text(f"{title} | data {when} | {counts}{extra}")


class EventLog(RichLog):
    """Transitions, alarms raised and cleared, unreachable manager, drain outcomes."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(max_lines=1000, wrap=False, markup=False, highlight=False, id=id)

    def add(self, events: list[Event]) -> None:
        for e in events:
            line = Text(f"{clock_text(e.at)} ", style="dim")
            line.append(e.text, style=LEVEL_STYLE.get(e.level, ""))
            self.write(line)

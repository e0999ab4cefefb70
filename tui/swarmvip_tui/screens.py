"""Modal screens: confirm a drain (who takes over), follow its progress, help."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, RichLog, Static

from swarmvip.ops.actions import DrainOutcome
from swarmvip.status.drainplan import DrainPreview


def preview_lines(preview: DrainPreview) -> list[str]:
    lines = []
    for h in preview.handovers:
        if h.holder:
            lines.append(
                f"{h.vip}: {preview.node} holds it → {h.successor or 'NOBODY'} will take over"
            )
        else:
            lines.append(
                f"{h.vip}: {preview.node} is a backup (no move); next in line: "
                f"{h.successor or 'nobody'}"
            )
    return lines or [preview.summary]


class ConfirmAction(ModalScreen[str | None]):
    """Dismissed with "confirm", "force" (refused, then F pressed twice) or None (cancel)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "confirm"),
        Binding("n,escape", "cancel", "cancel"),
        Binding("F", "force", "force (twice)"),
    ]

    def __init__(self, title: str, lines: list[str], refusal: str | None = None) -> None:
        super().__init__()
        self.title_text, self.lines, self.refusal = title, lines, refusal
        self.force_armed = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="dialog-title")
            yield Static("\n".join(self.lines), id="dialog-body")
            if self.refusal:
                yield Static(
                    f"REFUSED: {self.refusal}\nPress F twice to force it anyway.",
                    id="dialog-refusal",
                )
            with Horizontal(id="dialog-buttons"):
                if not self.refusal:
                    yield Button("Confirm (y)", variant="error", id="confirm")
                yield Button("Cancel (n)", variant="primary", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss("confirm" if event.button.id == "confirm" else None)

    def action_confirm(self) -> None:
        if not self.refusal:
            self.dismiss("confirm")

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_force(self) -> None:
        if not self.refusal:
            return
        if self.force_armed:
            self.dismiss("force")
            return
        self.force_armed = True
        self.query_one("#dialog-refusal", Static).update(
            f"REFUSED: {self.refusal}\nF pressed: press F once more to FORCE, n to cancel."
        )


def moved_gap(gap: float | None) -> str:
    if gap is None:
        return "gap unknown"
    return f"gap {gap * 1000:.0f} ms" if gap else "no gap"


def outcome_text(outcome: DrainOutcome) -> Text:
    text = Text(
        "OK: " if outcome.ok else "FAILED: ", style="bold green" if outcome.ok else "bold red"
    )
    text.append(outcome.message)
    for m in outcome.moved:
        after = m.after or "no new holder observed"
        text.append(f"\n  {m.vip}: {m.before} → {after} ({moved_gap(m.gap)})")
    return text


class ProgressScreen(ModalScreen[None]):
    """Live progress lines of a drain/undrain, then its outcome; closable once it is done."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter", "close", "close")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title
        self.done = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="dialog-title")
            yield RichLog(id="progress-log", wrap=True, markup=False, highlight=False)
            yield Static("running…", id="outcome")
            with Horizontal(id="dialog-buttons"):
                yield Button("Close", id="close", disabled=True)

    def add_line(self, line: str) -> None:
        self.query_one("#progress-log", RichLog).write(line)

    def finish(self, outcome: DrainOutcome) -> None:
        self.done = True
        self.query_one("#outcome", Static).update(outcome_text(outcome))
        button = self.query_one("#close", Button)
        button.disabled = False
        button.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_close()

    def action_close(self) -> None:
        if self.done:
            self.dismiss(None)
        else:
            self.notify("still running: wait for the outcome", severity="warning")


HELP = """\
swarmvip tui — who holds each VIP, live

  d   drain the selected node from its VIPs only (keepalived steps down)
  D   drain the selected node in the swarm (availability=drain, tasks move)
  u   undrain the selected node
  r   refresh now
  /   filter nodes and VIPs by text (Enter: keep, Esc: clear)
  ?   this help
  q   quit

A confirmation names the node that takes over each VIP; a refused drain
(no healthy backup would remain) can only be cancelled, or forced with F twice.

Red banner: alarms (split brain, no holder, stale reports, tasks not running).
Blue banner: a planned change in progress (a drain, deploy or controller pass
holds the write lease): its VIP moves and task restarts are progress, not alarms.
STALE banner: the manager is unreachable; the tables show the last good data.
Holder: black on green. Event log: transitions with their gap, alarms raised/cleared.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,enter", "close", "close"),
        Binding("q", "app.quit", "quit"),  # app bindings do not reach through a modal screen
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(HELP, id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)

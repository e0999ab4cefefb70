"""The Textual app: polls a StatusSource in a thread worker, shows VIPs, nodes, alarms, events.

Docker calls (`source.observe()`, drain/undrain) run only in thread workers that post messages;
the next poll is armed when the previous one has been applied (set_timer, never set_interval);
all widgets change inside one batch_update().
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.timer import Timer
from textual.widgets import Footer, Input

from swarmvip.ops.actions import Actions, DrainMode, DrainOutcome, Progress
from swarmvip.status.drainplan import preview_drain
from swarmvip.status.fold import fold
from swarmvip.status.model import Observation, Snapshot, StatusSource
from swarmvip_tui.feed import Event, EventFeed
from swarmvip_tui.messages import ActionDone, ActionProgress, Polled
from swarmvip_tui.screens import (
    ConfirmAction,
    HelpScreen,
    ProgressScreen,
    outcome_text,
    preview_lines,
)
from swarmvip_tui.tables import NODE_COLUMNS, VIP_COLUMNS, KeyedTable, node_rows, vip_rows
from swarmvip_tui.widgets import AlarmBanner, EventLog, HeaderLine, ProgressBanner, StaleBanner

Call = Callable[[Progress], DrainOutcome]
MODE_LABEL = {"vip-only": "VIP only", "swarm": "swarm drain"}


class SwarmvipApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "swarmvip"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "drain('vip-only')", "drain VIP"),
        Binding("D", "drain('swarm')", "swarm drain"),
        Binding("u", "undrain", "undrain"),
        Binding("r", "refresh", "refresh"),
        Binding("slash", "filter", "filter"),
        Binding("escape", "clear_filter", "clear filter", show=False),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(
        self,
        source: StatusSource,
        actions: Actions | None = None,
        *,
        clock: Callable[[], float] = time.time,
        interval: float = 0.5,
        label: str = "swarmvip",
        unavailable: str | None = None,
    ) -> None:
        super().__init__()
        self.source, self.actions, self.clock, self.interval = source, actions, clock, interval
        self.label = label
        self.unavailable = unavailable if actions is None else None
        self.snapshot: Snapshot | None = None
        self.unreachable_since: float | None = None
        self.last_error = ""
        self.feed = EventFeed()
        self.filter_text = ""
        self.polls = 0
        self.last_poll_seconds = 0.0  # observe + fold, in the worker
        self.last_apply_seconds = 0.0  # widget update, on the UI thread
        self._timer: Timer | None = None
        self._polling = False
        self._progress: ProgressScreen | None = None

    def compose(self) -> ComposeResult:
        yield AlarmBanner(id="alarm")
        yield ProgressBanner(id="progress")
        yield StaleBanner(id="stale")
        yield HeaderLine(id="header")
        yield KeyedTable(VIP_COLUMNS, id="vips")
        yield KeyedTable(NODE_COLUMNS, id="nodes")
        yield EventLog(id="events")
        yield Input(placeholder="filter nodes and VIPs (Enter: keep, Esc: clear)", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        for wid in ("#alarm", "#progress", "#stale", "#filter"):
            self.query_one(wid).display = False
        self.query_one("#filter", Input).cursor_blink = False
        for wid, title in (("#vips", "VIPs"), ("#nodes", "Nodes"), ("#events", "Events")):
            self.query_one(wid).border_title = title
        self.query_one(HeaderLine).show(self.label, None, self.unavailable)
        self.query_one("#nodes").focus()
        self.poll_now()

    # --- polling -------------------------------------------------------------------------
    def poll_now(self) -> None:
        """Poll unless a poll is running; a pending timer is replaced by this poll."""
        if self._polling:
            return
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._polling = True
        self._poll()

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def _poll(self) -> None:
        started = time.perf_counter()
        try:
            obs = self.source.observe()
            snap = None if obs.error else fold(obs)
        except Exception as exc:  # a source must not kill the UI: show it as unreachable
            obs, snap = Observation(now=self.clock(), error=f"{type(exc).__name__}: {exc}"), None
        self.post_message(Polled(obs, snap, time.perf_counter() - started))

    def on_polled(self, message: Polled) -> None:
        self._polling = False
        self.polls += 1
        self.last_poll_seconds = message.seconds
        try:
            self.apply(message.snapshot, message.observation.error)
        except NoMatches:  # the poll landed while the app closes: its widgets are gone
            return
        self._timer = self.set_timer(self.interval, self.poll_now)

    def apply(self, snap: Snapshot | None, error: str | None) -> None:
        """Fold a poll's result into the screen, in one batch."""
        started = time.perf_counter()
        now = self.clock()
        events: list[Event] = []
        if snap is None:
            if self.unreachable_since is None:
                self.unreachable_since = now
                events.append(Event(now, f"manager unreachable: {error}", "error"))
            self.last_error = error or "unknown error"
        else:
            if self.unreachable_since is not None:
                events.append(Event(now, "manager reachable again", "cleared"))
            self.unreachable_since = None
            self.snapshot = snap
            events += self.feed.update(snap, now)
        with self.batch_update():
            self._render_all(now)
            self.query_one(EventLog).add(events)
        self.last_apply_seconds = time.perf_counter() - started

    def _render_all(self, now: float) -> None:
        snap = self.snapshot
        self.query_one(StaleBanner).show_stale(
            self.unreachable_since, snap.generated_at if snap else None, self.last_error
        )
        self.query_one(HeaderLine).show(self.label, snap, self.unavailable)
        if snap is None:
            return
        self.query_one(AlarmBanner).show_alarms(snap.alarms)
        self.query_one(ProgressBanner).show_progress(snap.writer, snap.progress)
        self._render_tables(snap, now)

    def _render_tables(self, snap: Snapshot, now: float) -> None:
        self.query_one("#vips", KeyedTable).show_rows(vip_rows(snap, now, self.filter_text))
        self.query_one("#nodes", KeyedTable).show_rows(node_rows(snap, self.filter_text))

    def action_refresh(self) -> None:
        self.poll_now()

    # --- filter ----------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.query_one("#nodes").focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        if self.snapshot is not None:
            with self.batch_update():
                self._render_tables(self.snapshot, self.clock())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.input.display = bool(event.value.strip())
        self.query_one("#nodes").focus()

    # --- drain / undrain -------------------------------------------------------------------
    def _target(self) -> str | None:
        if self.actions is None:
            self.notify(self.unavailable or "drain unavailable", severity="error")
            return None
        node = self.query_one("#nodes", KeyedTable).selected_key
        if node is None or self.snapshot is None:
            self.notify("select a node first", severity="warning")
            return None
        if self._progress is not None:
            self.notify("an action is still running", severity="warning")
            return None
        return node

    def action_drain(self, mode: DrainMode) -> None:
        node = self._target()
        if node is None or self.snapshot is None or self.actions is None:
            return
        preview = preview_drain(self.snapshot, node)
        lines, refusal = preview_lines(preview), preview.refusal
        if mode == "swarm" and not preview.handovers and node in self._node_names():
            lines, refusal = [f"{node} is in no VIP group: no VIP moves."], None
        title = f"Drain {node} ({MODE_LABEL[mode]})"
        actions = self.actions

        def run(progress: Progress, force: bool) -> DrainOutcome:
            return actions.drain(node, mode, progress, force=force)

        self.push_screen(
            ConfirmAction(title, lines, refusal), lambda choice: self._start(title, run, choice)
        )

    def action_undrain(self) -> None:
        node = self._target()
        if node is None or self.actions is None:
            return
        actions = self.actions
        lines = [f"{node} becomes eligible again; preferred VIPs may move back to it."]

        def run(progress: Progress, force: bool) -> DrainOutcome:
            return actions.undrain(node, progress)

        self.push_screen(
            ConfirmAction(f"Undrain {node}", lines),
            lambda choice: self._start(f"Undrain {node}", run, choice),
        )

    def _node_names(self) -> set[str]:
        return {n.hostname for n in self.snapshot.nodes} if self.snapshot else set()

    def _start(
        self, title: str, run: Callable[[Progress, bool], DrainOutcome], choice: str | None
    ) -> None:
        if choice is None:
            return
        force = choice == "force"
        title += " — FORCED" if force else ""
        self._progress = ProgressScreen(title)
        self.push_screen(self._progress)
        self._act(title, lambda progress: run(progress, force))

    @work(thread=True, exclusive=True, group="action", exit_on_error=False)
    def _act(self, title: str, call: Call) -> None:
        def progress(line: str) -> None:
            self.post_message(ActionProgress(line))

        try:
            outcome = call(progress)
        except Exception as exc:
            outcome = DrainOutcome(False, f"{type(exc).__name__}: {exc}")
        self.post_message(ActionDone(title, outcome))

    def on_action_progress(self, message: ActionProgress) -> None:
        if self._progress is not None:
            self._progress.add_line(message.line)

    def on_action_done(self, message: ActionDone) -> None:
        if self._progress is not None:
            self._progress.finish(message.outcome)
        self._progress = None
        text = f"{message.title}: {outcome_text(message.outcome).plain}".replace("\n", ";")
        self.query_one(EventLog).add([Event(self.clock(), text, "action")])
        self.poll_now()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

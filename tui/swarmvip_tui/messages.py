"""Messages that thread workers post to the app (post_message is thread-safe)."""

from __future__ import annotations

from textual.message import Message

from swarmvip.ops.actions import DrainOutcome
from swarmvip.status.model import Observation, Snapshot


class Polled(Message):
    """One poll finished: what the source returned and its fold (None when the source failed)."""

    def __init__(self, observation: Observation, snapshot: Snapshot | None, seconds: float) -> None:
        super().__init__()
        self.observation = observation
        self.snapshot = snapshot
        self.seconds = seconds


class ActionProgress(Message):
    """A line from a running drain/undrain's progress callback."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class ActionDone(Message):
    """A drain/undrain returned (or raised, turned into a failed outcome)."""

    def __init__(self, title: str, outcome: DrainOutcome) -> None:
        super().__init__()
        self.title = title
        self.outcome = outcome

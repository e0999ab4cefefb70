"""The drain/undrain contract shared by the CLI, the TUI and the controller. Pure types."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

DrainMode = Literal["vip-only", "swarm"]
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Moved:
    vip: str  # stack/group
    before: str  # old holder
    after: str | None  # new holder observed (None: not observed before the timeout)
    gap: float | None  # seconds without a holder as the agents reported it (0: overlap)


@dataclass(frozen=True, slots=True)
class DrainOutcome:
    ok: bool
    message: str
    moved: tuple[Moved, ...] = ()


class Actions(Protocol):
    """What an operator can do to a node; the TUI receives an implementation as an argument."""

    def drain(
        self, node: str, mode: DrainMode, progress: Progress, force: bool = False
    ) -> DrainOutcome: ...

    def undrain(self, node: str, progress: Progress) -> DrainOutcome: ...

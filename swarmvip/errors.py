"""The exceptions swarmvip raises, each mapped to a CLI exit code at the one error boundary."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # the operation ran and did not succeed (timeout, cluster refused)
    USAGE = 2  # bad input: stack file, labels, arguments; nothing was changed
    UNAVAILABLE = 3  # the engine or manager could not be reached or is too old


class SwarmvipError(Exception):
    exit_code = ExitCode.FAILURE
    reason = "error"  # machine-readable kind of failure (`status --json`: "reason")


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation problem: where it is, what is wrong and how to fix it."""

    file: str
    key: str
    message: str
    fix: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        text = f"{where}: {self.key}: {self.message}"
        return text + (f" (fix: {self.fix})" if self.fix else "")


class ConfigError(SwarmvipError):
    """Bad input; carries every problem found, so the user fixes them all at once."""

    exit_code = ExitCode.USAGE

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ClusterError(SwarmvipError):
    """The swarm refused or failed an operation."""


class LeaseLost(ClusterError):
    """The write lease went to someone else (or expired) while working: no further write."""


class UnavailableError(SwarmvipError):
    """No engine answered, or it is too old."""

    exit_code = ExitCode.UNAVAILABLE
    reason = "unavailable"


class NoLeaderError(UnavailableError):
    """The engine answers, but its swarm has no raft leader (quorum lost, or a leader election
    after a manager was lost): nothing of the swarm can be read or changed through it."""

    reason = "no-leader"

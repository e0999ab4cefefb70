"""Where a value came from in the stack file: key paths, line numbers and collected problems. Pure.

Validation code reads plain values through a Source so that every problem it reports names the
file, the line and the key path, and so that all problems are gathered before any is raised.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from swarmvip.errors import ConfigError, Problem

Path = tuple[str | int, ...]


def dotted(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + part
    return text


@dataclass
class Source:
    """A parsed file: its name, the line of every key path, and the problems found so far."""

    file: str
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line(self, path: Path) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def problem(self, path: Path, message: str, fix: str = "") -> None:
        self.problems.append(
            Problem(
                file=self.file, key=dotted(path), message=message, fix=fix, line=self.line(path)
            )
        )

    def unknown_keys(self, path: Path, value: Mapping[str, Any], known: Iterable[str]) -> None:
        known = tuple(known)
        for key in value:
            if key in known:
                continue
            close = difflib.get_close_matches(str(key), known, n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(known)}"
            self.problem((*path, str(key)), "unknown key", fix)

    def raise_if_problems(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)

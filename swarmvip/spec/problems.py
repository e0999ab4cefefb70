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


def matches_any(path: Path, patterns: Iterable[tuple[str, ...]]) -> bool:
    """Whether `path` fits one of `patterns`: `*` stands for any key, `#` for any list index."""
    return any(
        len(path) == len(pattern)
        and all(
            (want == "*" and isinstance(part, str))
            or (want == "#" and isinstance(part, int))
            or want == part
            for part, want in zip(path, pattern, strict=True)
        )
        for pattern in patterns
    )


@dataclass
class Source:
    """A parsed file: its name, the line of every key path, and the problems found so far.

    Several files merged into one document (`-c a.yml -c b.yml`) have one Source whose `roots`
    say where each part of the merged document came from: {merged path: (the file's Source, the
    path there)}. A problem's file and line are then those of the file that wrote the value.
    """

    file: str
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    roots: dict[Path, tuple[Source, Path]] = field(default_factory=dict)

    def _origin(self, path: Path) -> tuple[Source, Path]:
        """The Source that wrote `path` and the path in it (self and path for a single file)."""
        if not self.roots:
            return self, path
        for cut in range(len(path), -1, -1):
            root = self.roots.get(path[:cut])
            if root is not None:
                origin, there = root
                return origin._origin((*there, *path[cut:]))
        return self, path

    def line(self, path: Path) -> int | None:
        origin, path = self._origin(path)
        while path:
            if path in origin.lines:
                return origin.lines[path]
            path = path[:-1]
        return None

    def file_of(self, path: Path) -> str:
        return self._origin(path)[0].file

    def problem(self, path: Path, message: str, fix: str = "") -> None:
        self.problems.append(
            Problem(
                file=self.file_of(path),
                key=dotted(path),
                message=message,
                fix=fix,
                line=self.line(path),
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

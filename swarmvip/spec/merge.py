"""Several stack files as one document, merged by compose's rules (`-c a.yml -c b.yml`). Pure.

compose-go (override/merge.go), which `docker compose` uses, merges a later file into the
earlier ones: mappings key by key (recursively, `x-` extensions included), sequences appended,
any other value replaced; a null never overrides. A command is replaced, not appended
(compose does so for services' command, entrypoint and healthcheck.test; here also for
x-swarmvip's notify hooks and check commands). Two YAML tags change a value's merge:
`!override VALUE` replaces instead of merging or appending, `!reset VALUE` removes the key.
(`docker stack deploy` itself keeps only the first file's x- keys; it never reads x-swarmvip.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from swarmvip.spec.problems import Path, Source, matches_any


class Tagged:
    """A value carrying a compose merge tag: `!override` or `!reset`."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and isinstance(other, Tagged) and other.value == self.value

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self.value)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class Override(Tagged):
    """`!override VALUE`: replaces the earlier files' value instead of merging with it."""


class Reset(Tagged):
    """`!reset VALUE`: removes the key, whatever the earlier files said."""


TAGS: dict[str, type[Tagged]] = {"!override": Override, "!reset": Reset}

_REPLACED_LISTS = (
    ("x-swarmvip", "vips", "*", "notify", "*"),
    ("x-swarmvip", "vips", "*", "checks", "#", "command"),
    ("services", "*", "command"),
    ("services", "*", "entrypoint"),
    ("services", "*", "healthcheck", "test"),
)


def strip(value: Any) -> Any:
    """A plain copy of one file's value: `!reset` keys dropped, `!override` unwrapped."""
    if isinstance(value, Tagged):
        return strip(value.value)
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if not isinstance(v, Reset)}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def _kind(value: Any) -> str:
    return "mapping" if isinstance(value, dict) else "list" if isinstance(value, list) else "value"


class _Merger:
    def __init__(self, merged: Source) -> None:
        self.out = merged

    def _attach(self, path: Path, src: Source, there: Path, replaced: Any) -> None:
        """path now holds `there` of `src`; roots below path are gone with a replaced container."""
        roots = self.out.roots
        if isinstance(replaced, dict | list):
            for stale in [p for p in roots if len(p) > len(path) and p[: len(path)] == path]:
                del roots[stale]
        roots[path] = (src, there)

    def merge(self, base: Any, over: Any, path: Path, src: Source) -> Any:
        if isinstance(over, Override):
            self._attach(path, src, path, base)
            return strip(over.value)
        if over is None:
            return base
        if isinstance(base, dict) and isinstance(over, dict):
            for key, value in over.items():
                child = (*path, key)
                if isinstance(value, Reset):
                    self._attach(child, src, child, base.pop(key, None))
                elif key not in base or base[key] is None:
                    self._attach(child, src, child, base.get(key))
                    base[key] = strip(value)
                else:
                    base[key] = self.merge(base[key], value, child, src)
            return base
        if (
            isinstance(base, list)
            and isinstance(over, list)
            and not matches_any(path, _REPLACED_LISTS)
        ):
            for j in range(len(over)):
                self.out.roots[(*path, len(base) + j)] = (src, (*path, j))
            return base + [strip(v) for v in over]
        if isinstance(base, dict | list) and _kind(base) != _kind(over):
            self.out.problem(
                path,
                f"{src.file} gives a {_kind(over)} here, an earlier file a {_kind(base)}:"
                " they cannot be merged",
                "write the same kind in both files, or tag the later one !override",
            )
            return base
        self._attach(path, src, path, base)
        return strip(over)


def merge_documents(docs: Sequence[tuple[dict[str, Any], Source]]) -> tuple[Any, Source]:
    """The documents merged in order, with a Source naming each value's file and line."""
    first, first_src = docs[0]
    if len(docs) == 1:
        return strip(first), first_src
    merged = Source(file=first_src.file, roots={(): (first_src, ())})
    merger = _Merger(merged)
    result = strip(first)
    for doc, src in docs[1:]:
        result = merger.merge(result, doc, (), src)
    return result, merged

"""Load YAML safely for the stack-file language: plain Python values, and a line per key path.

SafeLoader composes the node graph; the walk turns it into dicts, lists and scalars with
budgets (nodes walked, nodes reached again through aliases, nesting depth), so a small file
cannot make `validate` spin (an alias bomb is refused in well under a second). YAML merge keys
(`<<: *anchor`) and compose's `!override`/`!reset` tags are understood here; duplicate keys,
complex keys and unknown tags are problems with their line, never tracebacks.
"""

from __future__ import annotations

from typing import Any

import yaml

from swarmvip.errors import ConfigError, Problem
from swarmvip.spec.merge import TAGS
from swarmvip.spec.problems import Path, Source

MAX_NODES = 100_000  # YAML nodes walked in one file, each alias expanded again
MAX_ALIASED = 10_000  # of those, nodes walked again through an alias (anchors, merge keys)
MAX_DEPTH = 64  # nesting of mappings and sequences
MERGE_TAG = "tag:yaml.org,2002:merge"


def _resolved_tag(node: yaml.Node) -> str:
    """The tag a tagged scalar (`!reset null`) would have had without its tag."""
    implicit = (True, False) if getattr(node, "style", None) is None else (False, True)
    resolver: Any = yaml.resolver.Resolver()
    return str(resolver.resolve(yaml.ScalarNode, node.value, implicit))


class _TooBig(Exception):
    """The document exceeds a walk budget; carries the problem to report."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path, self.message = path, message


class _Walk:
    """Turns a composed YAML node into plain values, noting each key's line; refuses duplicates.

    Aliases share nodes, so a few hundred bytes of nested anchors expand into millions of
    values: every node walked counts against a budget, nodes reached again through an alias
    against a smaller one, and nesting is bounded, so a hostile file costs milliseconds.
    """

    def __init__(self, src: Source) -> None:
        self.src = src
        self.seen: set[int] = set()
        self.walked = 0
        self.aliased = 0
        self.scalars = yaml.constructor.SafeConstructor()

    def _count(self, node: yaml.Node, path: Path, depth: int) -> None:
        self.walked += 1
        if id(node) in self.seen:
            self.aliased += 1
        self.seen.add(id(node))
        if self.walked > MAX_NODES or self.aliased > MAX_ALIASED:
            raise _TooBig(
                path,
                f"the file expands to more than {MAX_NODES} values or {MAX_ALIASED} aliased"
                " values (anchors and aliases nested into each other)",
            )
        if depth > MAX_DEPTH:
            raise _TooBig(path, f"values are nested more than {MAX_DEPTH} levels deep")

    def plain(self, node: yaml.Node, path: Path, depth: int = 0) -> Any:
        self._count(node, path, depth)
        self.src.lines.setdefault(path, node.start_mark.line + 1)
        tagged = TAGS.get(node.tag)
        if tagged is not None:  # compose's !override / !reset: how a later file merges it
            return tagged(self._untagged(node, path, depth))
        return self._untagged(node, path, depth)

    def _untagged(self, node: yaml.Node, path: Path, depth: int) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.plain(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if node.tag in TAGS:
            style = getattr(node, "style", None)
            node = yaml.ScalarNode(_resolved_tag(node), node.value, node.start_mark, style=style)
        try:
            return self.scalars.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.src.problem(
                path,
                f"cannot read this value: {getattr(exc, 'problem', None) or exc}",
                "write a plain string, number or boolean (no custom !tags)",
            )
            return None

    def _merged(self, node: yaml.Node, path: Path, depth: int) -> dict[str, Any]:
        """The keys a `<<:` brings in: one mapping, or a list of them (an earlier one wins)."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if isinstance(node, yaml.SequenceNode):
            self._count(node, path, depth)
        out: dict[str, Any] = {}
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self.src.problem(
                    (*path, "<<"),
                    "a merge key (<<) takes a mapping or a list of mappings",
                    "write <<: *anchor of a mapping, or <<: [*one, *two]",
                )
                continue
            self._count(source, path, depth)
            for key, value in self._mapping(source, path, depth).items():
                out.setdefault(key, value)
        return out

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:  # merge keys first: explicit keys win
            if key_node.tag == MERGE_TAG:
                self.src.lines[(*path, "<<")] = key_node.start_mark.line + 1
                for key, value in self._merged(value_node, path, depth + 1).items():
                    merged.setdefault(key, value)
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            if not isinstance(key_node, yaml.ScalarNode):  # `? [a, b]`: unhashable, never a key
                self.src.lines.setdefault((*path, "?"), key_node.start_mark.line + 1)
                self.src.problem(
                    (*path, "?"),
                    "a key is a list or a mapping",
                    "keys are plain names: write `name: value`",
                )
                continue
            key = key_node.value
            child = (*path, key)
            if key in out:
                self.src.lines[child] = key_node.start_mark.line + 1
                self.src.problem(child, "key appears twice", "keep one of them")
            self.src.lines[child] = key_node.start_mark.line + 1
            out[key] = self.plain(value_node, child, depth + 1)
        return out | {k: v for k, v in merged.items() if k not in out}


def _yaml_problem(src: Source, message: str, line: int | None, fix: str) -> ConfigError:
    return ConfigError([Problem(file=src.file, key="(yaml)", line=line, message=message, fix=fix)])


def load_yaml(text: str, src: Source) -> Any:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise _yaml_problem(
            src,
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            line,
            "check indentation and quoting near that line",
        ) from exc
    except RecursionError as exc:
        raise _yaml_problem(
            src, "values are nested too deeply", None, "flatten the nested lists or mappings"
        ) from exc
    if node is None:
        return None
    try:
        return _Walk(src).plain(node, ())
    except _TooBig as exc:
        raise _yaml_problem(
            src, exc.message, src.line(exc.path), "write the values out; keep anchors small"
        ) from exc

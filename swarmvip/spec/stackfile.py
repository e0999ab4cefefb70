"""Read a compose stack file and its `x-swarmvip:` block into a StackSpec: the only YAML user.

Every problem is collected with file, line and key path, then raised at once as ConfigError.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import yaml

from swarmvip import DEFAULT_IMAGE
from swarmvip.errors import ConfigError, Problem
from swarmvip.model import SecretSource, StackSpec, VipGroup
from swarmvip.spec import values
from swarmvip.spec.envfile import read_env_files
from swarmvip.spec.interpolate import environment_lookup, interpolate
from swarmvip.spec.merge import TAGS, merge_documents
from swarmvip.spec.problems import Path, Source
from swarmvip.spec.vipspec import parse_vip

BLOCK = "x-swarmvip"
BLOCK_KEYS = ("image", "stop_grace_period", "vips")
MAX_SECRET_FILE = 4096
MAX_GRACE = 600.0  # stop_grace_period: 10 min at most


MAX_NODES = 100_000  # YAML nodes walked in one file, each alias expanded again
MAX_ALIASED = 10_000  # of those, nodes walked again through an alias (anchors, merge keys)
MAX_DEPTH = 64  # nesting of mappings and sequences
MERGE_TAG = "tag:yaml.org,2002:merge"
STDIN = "-"
STDIN_NAME = "<stdin>"


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


def _declared_secrets(src: Source, doc: Mapping[str, Any]) -> Mapping[str, Any]:
    declared = doc.get("secrets")
    if declared is None:
        return {}
    if not isinstance(declared, Mapping):
        src.problem(
            ("secrets",),
            "secrets must be a mapping of secret names",
            "e.g. secrets: {vrrp: {file: ./vrrp.txt}} or {vrrp: {external: true}}",
        )
        return {}
    return declared


def _undeclared(src: Source, group: VipGroup, name: str) -> None:
    src.problem(
        (BLOCK, "vips", group.name, "auth_secret"),
        f"secret {name!r} is not declared under the top-level secrets:",
        f"add secrets: {{{name}: {{file: ./{name}.txt}}}}, or {{{name}: {{external: true}}}}"
        " for a secret made with `docker secret create`",
    )


def _secret_sources(
    src: Source, doc: Mapping[str, Any], groups: tuple[VipGroup, ...], base_dir: str
) -> tuple[SecretSource, ...]:
    """Every auth_secret must be declared under `secrets:`, with `file:` or `external: true`."""
    declared = _declared_secrets(src, doc)
    sources: dict[str, SecretSource] = {}
    for group in groups:
        name = group.auth_secret
        if not name:
            continue
        entry = declared.get(name)
        if not isinstance(entry, Mapping):
            _undeclared(src, group, name)
        elif not (entry.get("external") or "file" in entry):
            src.problem(
                ("secrets", name),
                f"secret {name!r} (auth_secret of {group.name}) has neither file:"
                " nor external: true",
                "add file: ./PASSWORD_FILE, or external: true for a secret made with"
                " `docker secret create`",
            )
        elif name in sources:
            continue
        elif entry.get("external"):
            given = entry.get("name")
            obj = given if isinstance(given, str) and values.SECRET_NAME.fullmatch(given) else name
            sources[name] = SecretSource(name=name, object=obj)  # must exist in the swarm
        else:
            sources[name] = SecretSource(name=name, data=_read_secret(src, name, entry, base_dir))
    return tuple(sources[k] for k in sorted(sources))


def _read_secret(src: Source, name: str, entry: Mapping[str, Any], base_dir: str) -> bytes:
    path: Path = ("secrets", name, "file")
    if not isinstance(entry["file"], str) or not entry["file"]:
        src.problem(path, f"{entry['file']!r} is not a file path", "e.g. file: ./vrrp.txt")
        return b""
    file = os.path.join(base_dir, entry["file"])
    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_SECRET_FILE).rstrip(b"\r\n")
    except OSError as exc:
        src.problem(path, f"cannot read {file}: {exc.strerror}", "create the file or fix its path")
        return b""
    if not 1 <= len(data) <= 8 or not all(0x21 <= b <= 0x7E and b not in b"${}\"'#!" for b in data):
        src.problem(
            path,
            f"the VRRP password in {file} must be 1 to 8 printable characters"
            " without spaces or $ { } \" ' # ! (keepalived silently cuts PASS at 8)",
            "shorten it; the value itself is never printed",
        )
    return data


def _groups(src: Source, raw: Any) -> tuple[VipGroup, ...]:
    path: Path = (BLOCK, "vips")
    if not isinstance(raw, Mapping) or not raw:
        src.problem(path, "no VIP groups", "add vips: {NAME: {addresses: [ADDRESS/PREFIX]}}")
        return ()
    parsed = [parse_vip(src, (*path, str(k)), str(k), v) for k, v in raw.items()]
    groups = tuple(g for g in parsed if g is not None)
    _cross_group(src, path, groups)
    return groups


def _cross_group(src: Source, path: Path, groups: tuple[VipGroup, ...]) -> None:
    seen_vrid: dict[int, str] = {}
    seen_addr: dict[str, str] = {}
    for g in groups:
        if g.vrid is not None and g.vrid in seen_vrid:
            src.problem(
                (*path, g.name, "vrid"),
                f"VRID {g.vrid} is also used by {seen_vrid[g.vrid]}",
                "give each VIP group its own vrid, or leave it out to allocate one",
            )
        if g.vrid is not None:
            seen_vrid.setdefault(g.vrid, g.name)
        for a in g.addresses:
            if str(a.ip) in seen_addr:
                src.problem(
                    (*path, g.name, "addresses"),
                    f"{a.ip} is also in {seen_addr[str(a.ip)]}",
                    "list it in one group",
                )
            seen_addr.setdefault(str(a.ip), g.name)


def _document(text: str, file: str, environ: Mapping[str, str] | None) -> tuple[Any, Source]:
    """One file parsed (and interpolated when `environ` is given), with its own Source."""
    src = Source(file=file)
    doc = load_yaml(text, src)
    if not isinstance(doc, Mapping):
        src.problem((), "the stack file is not a mapping", "start from stacks/ examples")
        return None, src
    if environ is not None:
        doc = interpolate(doc, src, environment_lookup(environ))
    return doc, src


def parse_stacks(
    texts: Sequence[tuple[str, str]],
    base_dir: str = ".",
    *,
    environ: Mapping[str, str] | None = None,
) -> StackSpec:
    """The validated StackSpec of (text, file name) files merged in order as compose merges
    them, or ConfigError listing every problem, each naming the file it is in.

    With `environ`, every string value is interpolated from it first (compose's rules; see
    spec/interpolate.py), each file on its own. Without it the text is read literally: that is
    how a stored spec (already interpolated, see spec/specdoc.py) is read back.
    """
    loaded = [_document(text, file, environ) for text, file in texts]
    problems = [p for _, src in loaded for p in src.problems]
    if problems:
        raise ConfigError(problems)
    doc, src = merge_documents(loaded)
    src.raise_if_problems()
    return _stack_spec(doc, src, base_dir)


def parse_stack(
    text: str, file: str, base_dir: str = ".", *, environ: Mapping[str, str] | None = None
) -> StackSpec:
    """The validated StackSpec of one file, or ConfigError listing every problem in the file."""
    return parse_stacks([(text, file)], base_dir, environ=environ)


def _stack_spec(doc: Any, src: Source, base_dir: str) -> StackSpec:
    block = doc.get(BLOCK)
    if not isinstance(block, Mapping):
        src.problem(
            (BLOCK,), "missing or not a mapping", f"add a top-level {BLOCK}: block with vips"
        )
        src.raise_if_problems()
    src.unknown_keys((BLOCK,), block, BLOCK_KEYS)
    image = values.text(
        src, (BLOCK, "image"), block.get("image", DEFAULT_IMAGE), values.IMAGE, "image reference"
    )
    grace = values.duration(
        src,
        (BLOCK, "stop_grace_period"),
        block.get("stop_grace_period", 10),
        minimum=1,
        maximum=MAX_GRACE,
    )
    groups = _groups(src, block.get("vips"))
    secrets = _secret_sources(src, doc, groups, base_dir)
    src.raise_if_problems()
    services = doc.get("services")
    return StackSpec(
        path=src.file,
        image=image or DEFAULT_IMAGE,
        groups=groups,
        has_services=isinstance(services, Mapping) and bool(services),
        stop_grace_period=grace or 10.0,
        secrets=secrets,
    )


def dump_document(doc: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(doc), sort_keys=False)


def _read_text(file: str, stdin: TextIO | None) -> str:
    if file == STDIN:
        return (stdin if stdin is not None else sys.stdin).read()
    try:
        with open(file, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        message = exc.strerror if isinstance(exc, OSError) else f"not UTF-8 text ({exc.reason})"
        raise ConfigError(
            [Problem(file=file, key="(file)", message=message or str(exc), fix="check the path")]
        ) from exc


def read_stack(
    files: str | Sequence[str] | None,
    *,
    env_files: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
) -> StackSpec:
    """The StackSpec of one or more stack files (`-` is standard input), merged in order and
    interpolated like `docker stack deploy` does: from `environ` (default: this process's
    environment) and, for names the environment lacks, from the `env_files` (a later one
    wins). Relative secret files are relative to the first file's directory (the current
    directory for standard input), as compose's project directory is.
    """
    names = [files] if isinstance(files, str) else list(files or ())
    if not names:
        raise ConfigError(
            [
                Problem(
                    file="-",
                    key="(file)",
                    message="no stack file given",
                    fix="name a stack file, or several with -c FILE",
                )
            ]
        )
    if names.count(STDIN) > 1:
        raise ConfigError(
            [
                Problem(
                    file=STDIN_NAME,
                    key="(file)",
                    message="standard input (-) is named twice",
                    fix="read standard input once",
                )
            ]
        )
    env = dict(os.environ if environ is None else environ)
    defaults = read_env_files([(_read_text(f, stdin), f) for f in env_files], env)
    texts = [(_read_text(f, stdin), STDIN_NAME if f == STDIN else f) for f in names]
    first = names[0]
    base_dir = os.getcwd() if first == STDIN else os.path.dirname(os.path.abspath(first))
    return parse_stacks(texts, base_dir, environ=defaults | env)

"""Read a compose stack file and its `x-swarmvip:` block into a StackSpec: the only YAML user.

Every problem is collected with file, line and key path, then raised at once as ConfigError.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import yaml

from swarmvip import DEFAULT_IMAGE, values
from swarmvip.errors import ConfigError, Problem
from swarmvip.model import SecretSource, StackSpec, VipGroup
from swarmvip.source import Path, Source
from swarmvip.vipspec import parse_vip

BLOCK = "x-swarmvip"
BLOCK_KEYS = ("image", "stop_grace_period", "vips")
MAX_SECRET_FILE = 4096


def _plain(node: yaml.Node, path: Path, src: Source) -> Any:
    """Turn a composed YAML node into plain values, noting each key's line; refuse duplicates."""
    src.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = (
                yaml.safe_load(yaml.serialize(key_node))
                if not isinstance(key_node, yaml.ScalarNode)
                else key_node.value
            )
            child = (*path, str(key))
            if key in out:
                src.lines[child] = key_node.start_mark.line + 1
                src.problem(child, "key appears twice", "keep one of them")
            src.lines[child] = key_node.start_mark.line + 1
            out[key] = _plain(value_node, child, src)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*path, i), src) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def load_yaml(text: str, src: Source) -> Any:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(
            [
                Problem(
                    file=src.file,
                    key="(yaml)",
                    line=line,
                    message=f"not valid YAML: {getattr(exc, 'problem', exc)}",
                    fix="check indentation and quoting near that line",
                )
            ]
        ) from exc
    return _plain(node, (), src) if node is not None else None


def _secret_sources(
    src: Source, doc: Mapping[str, Any], groups: tuple[VipGroup, ...], base_dir: str
) -> tuple[SecretSource, ...]:
    declared = doc.get("secrets") or {}
    sources = []
    for name in sorted({g.auth_secret for g in groups if g.auth_secret}):
        entry = declared.get(name) if isinstance(declared, Mapping) else None
        if not isinstance(entry, Mapping) or entry.get("external") or "file" not in entry:
            given = entry.get("name") if isinstance(entry, Mapping) else None
            obj = given if isinstance(given, str) and values.SECRET_NAME.fullmatch(given) else name
            sources.append(SecretSource(name=name, object=obj))  # must exist in the swarm
            continue
        sources.append(SecretSource(name=name, data=_read_secret(src, name, entry, base_dir)))
    return tuple(sources)


def _read_secret(src: Source, name: str, entry: Mapping[str, Any], base_dir: str) -> bytes:
    path: Path = ("secrets", name, "file")
    file = os.path.join(base_dir, str(entry["file"]))
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


def parse_stack(text: str, file: str, base_dir: str = ".") -> StackSpec:
    """The validated StackSpec, or ConfigError listing every problem in the file."""
    src = Source(file=file)
    doc = load_yaml(text, src)
    if not isinstance(doc, Mapping):
        src.problem((), "the stack file is not a mapping", "start from stacks/ examples")
        src.raise_if_problems()
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
        src, (BLOCK, "stop_grace_period"), block.get("stop_grace_period", 10), minimum=1
    )
    groups = _groups(src, block.get("vips"))
    secrets = _secret_sources(src, doc, groups, base_dir)
    src.raise_if_problems()
    services = doc.get("services")
    return StackSpec(
        path=file,
        image=image or DEFAULT_IMAGE,
        groups=groups,
        has_services=isinstance(services, Mapping) and bool(services),
        stop_grace_period=grace or 10.0,
        secrets=secrets,
    )


def dump_document(doc: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(doc), sort_keys=False)


def read_stack(file: str) -> StackSpec:
    try:
        with open(file, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError(
            [
                Problem(
                    file=file, key="(file)", message=exc.strerror or str(exc), fix="check the path"
                )
            ]
        ) from exc
    return parse_stack(text, file, os.path.dirname(os.path.abspath(file)))

"""Read a compose stack file and its `x-swarmvip:` block into a StackSpec: the only YAML user.

Every problem is collected with file, line and key path, then raised at once as ConfigError.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import yaml

from swarmvip import DEFAULT_IMAGE, IMAGE_ENV
from swarmvip.errors import ConfigError, Problem
from swarmvip.model import SecretSource, StackSpec, VipGroup
from swarmvip.spec import values
from swarmvip.spec.agentblock import parse_agent
from swarmvip.spec.envfile import read_env_files
from swarmvip.spec.interpolate import environment_lookup, interpolate
from swarmvip.spec.merge import merge_documents
from swarmvip.spec.problems import Path, Source
from swarmvip.spec.vipspec import parse_vip
from swarmvip.spec.yamlload import load_yaml

BLOCK = "x-swarmvip"
BLOCK_KEYS = ("image", "stop_grace_period", "vips", "agent")
MAX_SECRET_FILE = 4096
MAX_GRACE = 600.0  # stop_grace_period: 10 min at most
STDIN = "-"
STDIN_NAME = "<stdin>"


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
    default_image = (environ or {}).get(IMAGE_ENV) or DEFAULT_IMAGE
    return _stack_spec(doc, src, base_dir, default_image)


def parse_stack(
    text: str, file: str, base_dir: str = ".", *, environ: Mapping[str, str] | None = None
) -> StackSpec:
    """The validated StackSpec of one file, or ConfigError listing every problem in the file."""
    return parse_stacks([(text, file)], base_dir, environ=environ)


def _stack_spec(doc: Any, src: Source, base_dir: str, default_image: str) -> StackSpec:
    block = doc.get(BLOCK)
    if not isinstance(block, Mapping):
        src.problem(
            (BLOCK,), "missing or not a mapping", f"add a top-level {BLOCK}: block with vips"
        )
        src.raise_if_problems()
    src.unknown_keys((BLOCK,), block, BLOCK_KEYS)
    if "image" in block:
        image = values.text(src, (BLOCK, "image"), block["image"], values.IMAGE, "image reference")
    else:
        image = values.text(
            src,
            (f"${IMAGE_ENV}",),
            default_image,
            values.IMAGE,
            f"image reference (the environment's {IMAGE_ENV}, used where the file has no image)",
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
    auth = {g.auth_secret: g.name for g in groups if g.auth_secret}
    agent, agent_secrets = parse_agent(src, block.get("agent"), doc, base_dir, auth)
    known = {s.name for s in secrets}  # an auth secret also mounted for hooks: read as auth
    secrets += tuple(s for s in agent_secrets if s.name not in known)
    src.raise_if_problems()
    services = doc.get("services")
    return StackSpec(
        path=src.file,
        image=image or default_image,
        groups=groups,
        has_services=isinstance(services, Mapping) and bool(services),
        stop_grace_period=grace or 10.0,
        secrets=tuple(sorted(secrets, key=lambda s: s.name)),
        agent=agent,
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

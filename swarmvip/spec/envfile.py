"""Read an `--env-file`: compose's `.env` format, values for interpolation. Pure (text in).

One `NAME=VALUE` a line; blank lines and `#` comments are skipped; `export NAME=VALUE` is
accepted. An unquoted value is trimmed and ends at ` #`; a 'single-quoted' value is literal;
a "double-quoted" value knows the escapes \\n \\r \\t \\\\ \\" \\$; quoted values may span lines.
Unquoted and double-quoted values are interpolated themselves (`${OTHER:-x}`), from what the
lookup gives (the environment) and then the names defined above in the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from swarmvip.errors import ConfigError, Problem
from swarmvip.spec.interpolate import Lookup, TemplateError, substitute

_ASSIGN = re.compile(r"^\s*(?:export\s+)?(?P<name>[^=\s]+)\s*=[ \t]*(?P<rest>.*)$", re.DOTALL)
_NAME = re.compile(r"^[_A-Za-z][_A-Za-z0-9]*$")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "$": "$$"}
MAX_ENV_FILE = 1 << 20  # bytes


class _Bad(Exception):
    def __init__(self, line: int, key: str, message: str, fix: str) -> None:
        super().__init__(message)
        self.line, self.key, self.message, self.fix = line, key, message, fix


def _quoted(lines: list[str], at: int, rest: str, name: str) -> tuple[str, int]:
    """(the raw quoted value, the index of its last line)."""
    quote, body, i = rest[0], rest[1:], at
    while True:
        end = _closing_quote(body, quote)
        if end >= 0:
            tail = body[end + 1 :].strip()
            if tail and not tail.startswith("#"):
                raise _Bad(at + 1, name, f"text after the closing quote: {tail!r}", "remove it")
            return body[:end], i
        i += 1
        if i >= len(lines):
            raise _Bad(at + 1, name, f"the {quote} quote is never closed", f"add a closing {quote}")
        body += "\n" + lines[i]


def _closing_quote(text: str, quote: str) -> int:
    i = 0
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    return -1


def _unescape(text: str) -> str:
    """Double-quoted escapes; a `\\$` stays a literal $ through interpolation (as `$$`)."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], "\\" + m[1]), text, flags=re.DOTALL)


def parse_env_file(text: str, file: str, lookup: Lookup) -> dict[str, str]:
    """NAME -> value; ConfigError naming the file and line of every bad line."""
    found: dict[str, str] = {}
    problems: list[Problem] = []

    def resolve(name: str) -> str | None:
        value = lookup(name)
        return value if value is not None else found.get(name)

    lines = text.removeprefix("\ufeff").splitlines()
    i = 0
    while i < len(lines):
        raw, at = lines[i], i
        i += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        name = "(env-file)"
        try:
            match = _ASSIGN.match(raw)
            if not match or not _NAME.fullmatch(match["name"]):
                raise _Bad(
                    at + 1,
                    name,
                    f"{raw.strip()[:60]!r} is not NAME=VALUE",
                    "one NAME=VALUE a line; NAME is letters, digits and _",
                )
            name, rest = match["name"], match["rest"]
            if rest[:1] in ("'", '"'):
                value, last = _quoted(lines, at, rest, name)
                i = last + 1
                if rest[0] == "'":
                    found[name] = value
                    continue
                value = _unescape(value)
            else:
                value = re.split(r"\s#", rest, maxsplit=1)[0].strip()
            found[name] = substitute(value, resolve)
        except _Bad as bad:
            problems.append(
                Problem(file=file, key=bad.key, line=bad.line, message=bad.message, fix=bad.fix)
            )
        except TemplateError as exc:
            problems.append(
                Problem(file=file, key=name, line=at + 1, message=exc.message, fix=exc.fix)
            )
    if problems:
        raise ConfigError(problems)
    return found


def read_env_files(files: list[tuple[str, str]], environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of (text, name) env files, a later file overriding an earlier one, each
    value interpolated from the environment first (the environment always wins)."""
    merged: dict[str, str] = {}

    def lookup(name: str) -> str | None:
        return environ.get(name, merged.get(name))

    for text, name in files:
        merged |= parse_env_file(text, name, lookup)
    return merged

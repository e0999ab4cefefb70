"""Compose's variable interpolation, applied to a parsed stack file's string values. Pure.

The rules are compose's (compose-spec "Interpolation", docker/cli cli/compose/template):

    $NAME  ${NAME}       the value; unset is the empty string
    ${NAME:-default}     default when NAME is unset or empty     ${NAME-default}  when unset
    ${NAME:?message}     error when NAME is unset or empty       ${NAME?message}  when unset
    ${NAME:+alt}         alt when NAME is set and not empty      ${NAME+alt}      when set
    $$                   a literal $

A default, message or alternative may itself hold `${...}`. Any other `$` (at the end, before a
space, `${1}`, an unclosed `${`) is an invalid template, as docker refuses it. Only values are
interpolated, never keys, and only after YAML parsing: a value's line stays its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from swarmvip.spec.merge import Tagged
from swarmvip.spec.problems import Path, Source, matches_any

_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
MAX_DEPTH = 16  # nested ${A:-${B:-...}}


class TemplateError(ValueError):
    """A template compose would refuse, or a required variable without a value."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message, self.fix = message, fix


Lookup = Callable[[str], str | None]


def _closing_brace(text: str, start: int) -> int:
    """The index of the `}` closing the `${` whose body starts at `start`; -1 if none."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
            continue
        if text.startswith("${", i):
            depth, i = depth + 1, i + 2
            continue
        if text[i] == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def _invalid(text: str, why: str) -> TemplateError:
    return TemplateError(
        f"{text!r} is not a valid template: {why}",
        "write $$ for a literal $, and ${NAME} or ${NAME:-default} for a variable",
    )


def _plain(name: str, written: str, lookup: Lookup, keep: frozenset[str]) -> str:
    value = lookup(name)
    if value is None and name in keep:
        return written
    return value or ""


def _braced(body: str, text: str, lookup: Lookup, depth: int, keep: frozenset[str]) -> str:
    name_match = _NAME.match(body)
    if not name_match:
        raise _invalid(text, f"${{{body}}} does not start with a variable name")
    name, rest = name_match.group(), body[name_match.end() :]
    if not rest:
        return _plain(name, f"${{{body}}}", lookup, keep)
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise _invalid(text, f"${{{body}}}: after {name} comes {rest[0]!r}, not :- - :? ? :+ +")
    arg = rest[len(op) :]
    value = lookup(name)
    present = value is not None and (value != "" or not op.startswith(":"))
    if op in (":-", "-"):
        return value if present and value is not None else substitute(arg, lookup, depth + 1)
    if op in (":+", "+"):
        return substitute(arg, lookup, depth + 1) if present else ""
    if present and value is not None:
        return value
    message = substitute(arg, lookup, depth + 1)
    how = "unset or empty" if op == ":?" else "unset"
    raise TemplateError(
        f"required variable {name} is {how}" + (f": {message}" if message else ""),
        f"set {name} in the environment or in an --env-file",
    )


def substitute(
    text: str, lookup: Lookup, depth: int = 0, keep: frozenset[str] = frozenset()
) -> str:
    """`text` with every variable replaced; TemplateError on a bad template or missing value.
    A plain `$NAME` / `${NAME}` of a name in `keep` that the lookup lacks stays as written."""
    if depth > MAX_DEPTH:
        raise _invalid(text, f"variables are nested more than {MAX_DEPTH} levels deep")
    out: list[str] = []
    i = 0
    while i < len(text):
        dollar = text.find("$", i)
        if dollar < 0:
            out.append(text[i:])
            break
        out.append(text[i:dollar])
        nxt = text[dollar + 1 : dollar + 2]
        if nxt == "$":
            out.append("$")
            i = dollar + 2
        elif nxt == "{":
            end = _closing_brace(text, dollar + 2)
            if end < 0:
                raise _invalid(text, "a ${ is never closed with }")
            out.append(_braced(text[dollar + 2 : end], text, lookup, depth, keep))
            i = end + 1
        elif name := _NAME.match(text, dollar + 1):
            out.append(_plain(name.group(), "$" + name.group(), lookup, keep))
            i = name.end()
        else:
            raise _invalid(text, "a $ is followed by no variable name")
    return "".join(out)


# The agent sets these for a notify hook when it runs (README, `notify`): left as written in a
# hook when the environment lacks them, so `echo $SWARMVIP_STATE` keeps working (compose would
# make it empty). `$$SWARMVIP_STATE` is the portable spelling.
AGENT_VARIABLES = frozenset({"SWARMVIP_GROUP", "SWARMVIP_STATE", "SWARMVIP_VIPS"})
_HOOK_PATHS = (("x-swarmvip", "vips", "*", "notify", "*", "#"),)

# Values compose would cast after interpolation (its schema types them); here only the
# x-swarmvip integers and a secret's `external`, and only when interpolation produced them.
_INTEGER_PATHS = (
    ("x-swarmvip", "vips", "*", "vrid"),
    ("x-swarmvip", "vips", "*", "timers", "version"),
    ("x-swarmvip", "vips", "*", "checks", "#", "expect_status"),
    ("x-swarmvip", "vips", "*", "checks", "#", "fall"),
    ("x-swarmvip", "vips", "*", "checks", "#", "rise"),
    ("x-swarmvip", "vips", "*", "checks", "#", "weight"),
)
_BOOLEAN_PATHS = (("secrets", "*", "external"),)
_INTEGER = re.compile(r"^[-+]?[0-9]{1,6}$")
_BOOLEANS = {
    "true": True,
    "yes": True,
    "y": True,
    "on": True,
    "false": False,
    "no": False,
    "n": False,
    "off": False,
}


def _cast(path: Path, value: str) -> Any:
    text = value.strip()
    if matches_any(path, _INTEGER_PATHS) and _INTEGER.fullmatch(text):
        return int(text)
    if matches_any(path, _BOOLEAN_PATHS) and text.lower() in _BOOLEANS:
        return _BOOLEANS[text.lower()]
    return value


def interpolate(value: Any, src: Source, lookup: Lookup, path: Path = ()) -> Any:
    """A copy of a parsed document with every string value interpolated; each bad template or
    missing required variable is a problem on `src` (file, line, key path) and leaves the value."""
    if isinstance(value, Mapping):
        return {k: interpolate(v, src, lookup, (*path, k)) for k, v in value.items()}
    if isinstance(value, Tagged):
        return type(value)(interpolate(value.value, src, lookup, path))
    if isinstance(value, list):
        return [interpolate(v, src, lookup, (*path, i)) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value
    keep = AGENT_VARIABLES if matches_any(path, _HOOK_PATHS) else frozenset()
    try:
        result = substitute(value, lookup, keep=keep)
    except TemplateError as exc:
        src.problem(path, exc.message, exc.fix)
        return value
    return _cast(path, result)


def environment_lookup(*layers: Mapping[str, str]) -> Lookup:
    """A lookup through `layers`, the first that has the name winning."""

    def lookup(name: str) -> str | None:
        for layer in layers:
            if name in layer:
                return layer[name]
        return None

    return lookup

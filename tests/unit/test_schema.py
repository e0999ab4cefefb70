"""The editor schema (schema/*.schema.json) stays in step with the stack-file validator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from swarmvip.errors import ConfigError
from swarmvip.model import Preemption
from swarmvip.spec import values
from swarmvip.spec.stackfile import BLOCK, BLOCK_KEYS, MAX_GRACE, parse_stack, read_stack
from swarmvip.spec.vipchecks import CHECK_KEYS
from swarmvip.spec.vipspec import MAX_ADVERT, MAX_PREEMPT_DELAY, TIMER_PRESETS, VIP_KEYS
from tests.unit.test_stackfile_bad_input import CASES

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schema" / "x-swarmvip.schema.json").read_text())
WRAPPER = json.loads((ROOT / "schema" / "stack-file.schema.json").read_text())
DEFS = SCHEMA["$defs"]

# Inline literals of swarmvip/spec/vipspec.py (the `known` argument of src.unknown_keys), copied
# here; test_inline_key_tuples_match_the_validator proves each copy against the validator.
PLACEMENT_KEYS = ("constraints",)
TIMERS_KEYS = ("advert_int", "version")
NOTIFY_KEYS = ("master", "backup", "fault", "args", "timeout")

UNKNOWN = "zzzzzzzz"  # close to no key, so the fix lists the allowed keys instead of a guess


def block_validator() -> Draft202012Validator:
    return Draft202012Validator(SCHEMA)


def file_validator() -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        "x-swarmvip.schema.json", Resource.from_contents(SCHEMA)
    )
    return Draft202012Validator(WRAPPER, registry=registry)


def allowed_keys(block: str) -> tuple[str, ...]:
    """The key tuple the validator names when `block` (an x-swarmvip value) has UNKNOWN in it."""
    with pytest.raises(ConfigError) as caught:
        parse_stack(f"x-swarmvip: {block}\n", "s.yml")
    fixes = [p.fix for p in caught.value.problems if p.key.endswith(UNKNOWN)]
    assert len(fixes) == 1 and fixes[0].startswith("allowed keys: "), caught.value.problems
    return tuple(fixes[0].removeprefix("allowed keys: ").split(", "))


def group(extra: str) -> str:
    return "{vips: {w: {addresses: [10.0.0.100/24], " + extra + "}}}"


def test_the_schemas_are_valid_draft_2020_12() -> None:
    for schema in (SCHEMA, WRAPPER):
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)
    assert WRAPPER["properties"] == {"x-swarmvip": {"$ref": "x-swarmvip.schema.json"}}
    assert WRAPPER["additionalProperties"] is True


@pytest.mark.parametrize(
    ("schema", "keys"),
    [
        (SCHEMA, BLOCK_KEYS),
        (DEFS["vipGroup"], VIP_KEYS),
        (DEFS["placement"], PLACEMENT_KEYS),
        (DEFS["timersObject"], TIMERS_KEYS),
        (DEFS["notify"], NOTIFY_KEYS),
        (DEFS["check"], CHECK_KEYS),
    ],
    ids=["block", "vip", "placement", "timers", "notify", "check"],
)
def test_each_level_names_exactly_the_validators_keys(
    schema: dict[str, Any], keys: tuple[str, ...]
) -> None:
    assert tuple(schema["properties"]) == keys
    assert schema["additionalProperties"] is False  # the validator refuses unknown keys


def test_inline_key_tuples_match_the_validator() -> None:
    assert allowed_keys("{" + UNKNOWN + ": 1, vips: {w: {addresses: [10.0.0.100/24]}}}") == (
        BLOCK_KEYS
    )
    assert allowed_keys(group(UNKNOWN + ": 1")) == VIP_KEYS
    assert allowed_keys(group("placement: {" + UNKNOWN + ": 1}")) == PLACEMENT_KEYS
    assert allowed_keys(group("timers: {" + UNKNOWN + ": 1}")) == TIMERS_KEYS
    assert allowed_keys(group("notify: {" + UNKNOWN + ": [x]}")) == NOTIFY_KEYS
    assert allowed_keys(group("checks: [{name: c, tcp: 'h:1', " + UNKNOWN + ": 1}]")) == (
        CHECK_KEYS
    )


def test_patterns_enums_and_bounds_follow_the_validator() -> None:
    group_schema = DEFS["vipGroup"]["properties"]
    check = DEFS["check"]["properties"]
    assert SCHEMA["properties"]["vips"]["propertyNames"]["pattern"] == values.NAME.pattern
    assert SCHEMA["properties"]["image"]["pattern"] == values.IMAGE.pattern
    assert group_schema["auth_secret"]["pattern"] == values.SECRET_NAME.pattern
    assert check["name"]["pattern"] == values.CHECK_NAME.pattern
    assert {p for p in group_schema["preemption"]["enum"] if p} == {p.value for p in Preemption}
    assert DEFS["timerPreset"]["enum"] == list(TIMER_PRESETS)
    assert SCHEMA["properties"]["stop_grace_period"]["maximum"] == MAX_GRACE
    assert group_schema["preempt_delay"]["maximum"] == MAX_PREEMPT_DELAY
    assert DEFS["timersObject"]["properties"]["advert_int"]["maximum"] == MAX_ADVERT
    assert check["interval"]["maximum"] == check["timeout"]["maximum"] == values.HOUR


LEVELS = [SCHEMA, *(DEFS[d] for d in ("vipGroup", "placement", "timersObject", "notify", "check"))]


def test_every_key_has_a_description() -> None:
    for level in LEVELS:
        for key, sub in level["properties"].items():
            target = DEFS[sub["$ref"].rsplit("/", 1)[1]] if set(sub) == {"$ref"} else sub
            assert target.get("description"), f"{key} has no description"


def test_durations_take_numbers_and_unit_strings_only() -> None:
    validator = block_validator()

    def with_delay(delay: Any) -> dict[str, Any]:
        return {"vips": {"w": {"addresses": ["10.0.0.100/24"], "preempt_delay": delay}}}

    goods = (0, 2, 0.5, "2", "2s", "0.5s", "500ms", "1.5m", "10m", ".5s", "1m30s", "2us")
    for good in goods:
        assert validator.is_valid(with_delay(good)), good
        assert _validator_accepts(good), good  # the schema says what the validator says
    for bad in ("2 s", "2sec", "-1", "", "1d", "1m30", True, None, -1, 1001, [2]):
        assert not validator.is_valid(with_delay(bad)), bad


def _validator_accepts(delay: Any) -> bool:
    text = "x-swarmvip:\n  vips:\n    w:\n      addresses: [10.0.0.100/24]\n"
    text += f"      preempt_delay: {json.dumps(delay)}\n"
    try:
        parse_stack(text, "d.yml")
    except ConfigError:
        return False
    return True


# Whole stack files as written. The interp-* e2e files are templates (${VAR} in an integer
# field) and an override fragment: a schema sees the text before interpolation and merging,
# so only the validator can judge them (tests/unit/test_compose_conventions.py, e2e).
EXAMPLES = sorted(
    p
    for p in [*ROOT.glob("stacks/*.yml"), *ROOT.glob("tests/e2e/stacks/*.yml")]
    if not p.name.startswith("interp-")
)


def test_the_examples_exist() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"proxy-http.yml", "sticky-notify.yml", "database-tcp.yml", "ctl-web.yml"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_validates_against_the_schema(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    errors = [e.message for e in file_validator().iter_errors(doc)]
    assert errors == [], errors
    if BLOCK in doc:  # controller.yml has none: it is an ordinary stack
        # as the CLI reads it: ${VAR:-default} (the examples' VIPs) interpolated
        read_stack(str(path), environ={})
        assert list(block_validator().iter_errors(doc[BLOCK])) == []


REFUSED = [
    "typo-top",
    "typo-vip-key",
    "missing-addresses",
    "address-no-prefix",
    "vrid-zero",
    "vrid-string",
    "bad-group-name",
    "inline-auth-pass",
    "auth-with-vrrpv3",
    "bad-preemption",
    "sticky-with-delay",
    "sticky-weighted-check",
    "unknown-timer-preset",
    "bad-duration",
    "check-two-kinds",
    "check-bad-tcp",
    "check-bad-url",
    "check-shell-string",
    "check-weight-range",
    "notify-shell",
    "notify-newline",
    "secret-name-injection",
    "image-injection",
    "grace-too-short",
    "r11-huge-duration",
]


def test_the_refused_cases_are_in_the_corpus() -> None:
    assert set(REFUSED) <= {case[0] for case in CASES}


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in REFUSED], ids=lambda c: c[0])
def test_bad_blocks_are_refused_by_validator_and_schema(case: tuple[Any, ...]) -> None:
    case_id, text, key, message, _ = case
    with pytest.raises(ConfigError) as caught:
        parse_stack(text, "bad.yml")
    assert any(key in p.key and message in p.message + p.fix for p in caught.value.problems)
    doc = yaml.safe_load(text)
    assert not block_validator().is_valid(doc[BLOCK]), case_id
    assert not file_validator().is_valid(doc), case_id

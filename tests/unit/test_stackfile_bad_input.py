"""The bad-input corpus: every case must exit with a problem that names the key and the line."""

from __future__ import annotations

import textwrap

import pytest

from swarmvip.errors import ConfigError
from swarmvip.spec.stackfile import parse_stack

GOOD_VIP = """\
      addresses: [10.213.0.100/24]
"""


def stack(vips: str, head: str = "", top: str = "") -> str:
    return (
        'version: "3.8"\n'
        + head
        + "x-swarmvip:\n"
        + top
        + "  vips:\n"
        + textwrap.indent(textwrap.dedent(vips), "    ")
    )


ONE_VIP = "x-swarmvip: {vips: {w: {addresses: [10.0.0.100/24]}}}\n"
AUTH_VIP = "x-swarmvip: {vips: {w: {addresses: [10.0.0.100/24], auth_secret: s, timers: compat}}}\n"


def alias_bomb(levels: int) -> str:
    """AUDIT-2 #14 (repro r21_alias.py): 9**levels values from a few hundred bytes."""
    lines = ["l0: &l0 [x,x,x,x,x,x,x,x,x]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n" + ONE_VIP


def in_group(extra: str) -> str:
    return "x-swarmvip: {vips: {w: {addresses: [10.0.0.100/24], " + extra + "}}}\n"


# (id, stack text, expected key path fragment, expected message fragment, expected line or None)
CASES = [
    (
        "malformed-yaml",
        'version: "3.8"\nx-swarmvip:\n  vips: [unclosed\n',
        "(yaml)",
        "not valid YAML",
        4,
    ),
    ("no-block", 'version: "3.8"\nservices: {}\n', "x-swarmvip", "missing", None),
    ("block-not-mapping", "x-swarmvip: [1, 2]\n", "x-swarmvip", "not a mapping", None),
    (
        "no-vips",
        "x-swarmvip:\n  image: swarmvip/agent:1\n",
        "x-swarmvip.vips",
        "no VIP groups",
        None,
    ),
    (
        "typo-top",
        stack("web:\n  addresses: [10.0.0.5/24]\n", top="  imgae: x\n"),
        "x-swarmvip.imgae",
        "did you mean 'image'",
        3,
    ),
    (
        "typo-vip-key",
        stack("web:\n  adresses: [10.0.0.5/24]\n"),
        "vips.web.adresses",
        "did you mean 'addresses'",
        5,
    ),
    ("missing-addresses", stack("web:\n  vrid: 5\n"), "vips.web.addresses", "missing", 4),
    (
        "address-no-prefix",
        stack("web:\n  addresses: [10.0.0.5]\n"),
        "addresses[0]",
        "with a prefix",
        5,
    ),
    (
        "address-garbage",
        stack("web:\n  addresses: [10.0.0.500/24]\n"),
        "addresses[0]",
        "not a valid address",
        5,
    ),
    (
        "bad-prefix",
        stack("web:\n  addresses: [10.0.0.5/33]\n"),
        "addresses[0]",
        "not a valid address",
        5,
    ),
    (
        "network-address",
        stack("web:\n  addresses: [10.0.0.0/24]\n"),
        "addresses[0]",
        "cannot be a VIP",
        5,
    ),
    ("loopback", stack("web:\n  addresses: [127.0.0.5/8]\n"), "addresses[0]", "cannot be a VIP", 5),
    (
        "mixed-families",
        stack("web:\n  addresses: [10.0.0.5/24, 'fd00::5/64']\n"),
        "vips.web.addresses",
        "mixed",
        5,
    ),
    (
        "vrid-zero",
        stack("web:\n  addresses: [10.0.0.5/24]\n  vrid: 0\n"),
        "vips.web.vrid",
        "1 to 255",
        6,
    ),
    (
        "vrid-big",
        stack("web:\n  addresses: [10.0.0.5/24]\n  vrid: 256\n"),
        "vips.web.vrid",
        "1 to 255",
        6,
    ),
    (
        "vrid-string",
        stack("web:\n  addresses: [10.0.0.5/24]\n  vrid: '7'\n"),
        "vips.web.vrid",
        "whole number",
        6,
    ),
    (
        "duplicate-vrid",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  vrid: 7\ndb:\n  addresses: [10.0.0.6/24]\n  vrid: 7\n"
        ),
        "vips.db.vrid",
        "also used by web",
        9,
    ),
    (
        "duplicate-address",
        stack("web:\n  addresses: [10.0.0.5/24]\ndb:\n  addresses: [10.0.0.5/24]\n"),
        "vips.db.addresses",
        "also in web",
        7,
    ),
    (
        "duplicate-key",
        stack("web:\n  addresses: [10.0.0.5/24]\n  addresses: [10.0.0.6/24]\n"),
        "vips.web.addresses",
        "twice",
        6,
    ),
    (
        "bad-group-name",
        stack("Web_1:\n  addresses: [10.0.0.5/24]\n"),
        "vips.Web_1",
        "VIP group name",
        4,
    ),
    (
        "inline-auth-pass",
        stack("web:\n  addresses: [10.0.0.5/24]\n  auth_pass: secret\n"),
        "vips.web.auth_pass",
        "never go inline",
        6,
    ),
    (
        "auth-with-vrrpv3",
        stack("web:\n  addresses: [10.0.0.5/24]\n  auth_secret: vrrp\n  timers: fast\n"),
        "vips.web.auth_secret",
        "VRRPv3",
        6,
    ),
    (
        "bad-preemption",
        stack("web:\n  addresses: [10.0.0.5/24]\n  preemption: always\n"),
        "vips.web.preemption",
        "not a preemption",
        6,
    ),
    (
        "sticky-with-delay",
        stack("web:\n  addresses: [10.0.0.5/24]\n  preemption: sticky\n  preempt_delay: 5s\n"),
        "preempt_delay",
        "no effect with sticky",
        7,
    ),
    (
        "sticky-weighted-check",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  preemption: sticky\n  checks:\n    - {name: a, tcp: '127.0.0.1:80'}\n"
        ),
        "checks[0].weight",
        "never move",
        8,
    ),
    (
        "unknown-timer-preset",
        stack("web:\n  addresses: [10.0.0.5/24]\n  timers: turbo\n"),
        "vips.web.timers",
        "unknown timer preset",
        6,
    ),
    (
        "v2-fractional",
        stack("web:\n  addresses: [10.0.0.5/24]\n  timers: {advert_int: 0.5, version: 2}\n"),
        "timers.advert_int",
        "whole number of seconds",
        6,
    ),
    (
        "bad-duration",
        stack("web:\n  addresses: [10.0.0.5/24]\n  timers: {advert_int: fast}\n"),
        "timers.advert_int",
        "not a duration",
        6,
    ),
    (
        "constraint-syntax",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  placement:\n    constraints: ['node.labels.edge = true']\n"
        ),
        "placement.constraints[0]",
        "not a constraint",
        7,
    ),
    (
        "constraint-key",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  placement:\n    constraints: ['node.colour == red']\n"
        ),
        "placement.constraints[0]",
        "unknown constraint key",
        7,
    ),
    (
        "constraint-role",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  placement:\n    constraints: ['node.role == boss']\n"
        ),
        "placement.constraints[0]",
        "manager or worker",
        7,
    ),
    (
        "check-two-kinds",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  checks:\n    - {name: a, tcp: '127.0.0.1:80', http: 'http://x/'}\n"
        ),
        "checks[0]",
        "exactly one",
        7,
    ),
    (
        "check-bad-tcp",
        stack("web:\n  addresses: [10.0.0.5/24]\n  checks:\n    - {name: a, tcp: 'localhost'}\n"),
        "checks[0].tcp",
        "HOST:PORT",
        7,
    ),
    (
        "check-bad-url",
        stack("web:\n  addresses: [10.0.0.5/24]\n  checks:\n    - {name: a, http: 'ftp://x/'}\n"),
        "checks[0].http",
        "http(s) URL",
        7,
    ),
    (
        "check-shell-string",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  checks:\n    - {name: a, command: 'curl -f x'}\n"
        ),
        "checks[0].command",
        "not a shell string",
        7,
    ),
    (
        "check-timeout-gt-interval",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  checks:\n    - {name: a, tcp: '127.0.0.1:1', interval: 1, timeout: 3}\n"
        ),
        "checks[0].timeout",
        "longer than interval",
        7,
    ),
    (
        "check-weight-range",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  checks:\n    - {name: a, tcp: '127.0.0.1:1', weight: -300}\n"
        ),
        "checks[0].weight",
        "-254 to 254",
        7,
    ),
    (
        "check-dup-name",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  checks:\n    - {name: a, tcp: '127.0.0.1:1'}\n    - {name: a, tcp: '127.0.0.1:2'}\n"
        ),
        "vips.web.checks",
        "used twice",
        6,
    ),
    (
        "notify-shell",
        stack("web:\n  addresses: [10.0.0.5/24]\n  notify:\n    master: 'echo hi'\n"),
        "notify.master",
        "not a shell string",
        7,
    ),
    (
        "notify-newline",
        stack(
            'web:\n  addresses: [10.0.0.5/24]\n  notify:\n    master: ["/bin/x", "a\\nvrrp_instance"]\n'
        ),
        "notify.master",
        "non-empty list",
        7,
    ),
    (
        "secret-name-injection",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  auth_secret: 'x }\\nvrrp_script'\n  timers: compat\n"
        ),
        "vips.web.auth_secret",
        "secret name",
        6,
    ),
    (
        "image-injection",
        stack("web:\n  addresses: [10.0.0.5/24]\n", top="  image: 'a b\\nc'\n"),
        "x-swarmvip.image",
        "image reference",
        3,
    ),
    (
        "grace-too-short",
        stack("web:\n  addresses: [10.0.0.5/24]\n", top="  stop_grace_period: 0\n"),
        "stop_grace_period",
        "at least 1s",
        3,
    ),
    # AUDIT-2 repro files nan.yml, inf.yml, key.yml (r12_nan.py renders nan.yml)
    (
        "repro-nan-yml",
        "x-swarmvip:\n  vips:\n    w:\n      addresses: [10.0.0.100/24]\n"
        "      timers: {advert_int: .nan}\n",
        "vips.w.timers.advert_int",
        "not a duration",
        5,
    ),
    (
        "repro-inf-yml",
        "x-swarmvip:\n  vips:\n    w:\n      addresses: [10.0.0.100/24]\n"
        "      timers: {advert_int: .inf}\n",
        "vips.w.timers.advert_int",
        "not a duration",
        5,
    ),
    (
        "repro-key-yml",
        "x-swarmvip:\n  vips:\n    ? [a, b]\n    : {addresses: [10.0.0.100/24]}\n",
        "x-swarmvip.vips.?",
        "a key is a list",
        3,
    ),
    # AUDIT-2 repro r11_fuzz.py: every case that crashed or was accepted
    ("r11-top-level-mapping-key", "? {a: 1}\n: 2\n" + ONE_VIP, "?", "a key is a list", 1),
    ("r11-secrets-not-mapping", "secrets: [a]\n" + AUTH_VIP, "secrets", "mapping", 1),
    (
        "r11-secret-file-is-a-list",
        "secrets: {s: {file: [x]}}\n" + AUTH_VIP,
        "secrets.s.file",
        "not a file path",
        1,
    ),
    (
        "r11-huge-duration",
        in_group("checks: [{name: c, tcp: 'a:1', interval: 1e400, timeout: 1e400}]"),
        "checks[0].interval",
        "at most 3600s",
        1,
    ),
    ("r11-nan-advert", in_group("timers: {advert_int: .nan}"), "advert_int", "not a duration", 1),
    ("r11-inf-advert", in_group("timers: {advert_int: .inf}"), "advert_int", "not a duration", 1),
    (
        "r11-nan-grace",
        "x-swarmvip: {stop_grace_period: .nan, vips: {w: {addresses: [10.0.0.100/24]}}}\n",
        "x-swarmvip.stop_grace_period",
        "not a duration",
        1,
    ),
    (
        "r11-inf-grace",
        "x-swarmvip: {stop_grace_period: .inf, vips: {w: {addresses: [10.0.0.100/24]}}}\n",
        "x-swarmvip.stop_grace_period",
        "not a duration",
        1,
    ),
    ("r11-nan-preempt-delay", in_group("preempt_delay: .nan"), "preempt_delay", "duration", 1),
    (
        "r11-timers-version-float",
        in_group("timers: {advert_int: 1, version: 2.0}"),
        "timers.version",
        "not 2 or 3",
        1,
    ),
    (
        "r11-deep-nesting",
        "x-swarmvip: " + "[" * 5000 + "]" * 5000 + "\n",
        "(yaml)",
        "nested too deeply",
        None,
    ),
    ("r11-anchor-bomb", alias_bomb(6), "(yaml)", "aliased values", None),
    # AUDIT-2 #14 repro r21_alias.py: the 266-byte file
    ("r21-alias-bomb-266-bytes", alias_bomb(5), "(yaml)", "aliased values", None),
    ("recursive-anchor", "a: &a [*a]\n" + ONE_VIP, "(yaml)", "nested more than", 1),
    ("nesting-over-budget", "x-swarmvip: " + "[" * 70 + "]" * 70 + "\n", "(yaml)", "nested", 1),
    ("custom-tag", in_group("vrid: !weird 7"), "vips.w.vrid", "cannot read this value", 1),
    # AUDIT-2 #13: upper bounds
    (
        "grace-too-long",
        stack("web:\n  addresses: [10.0.0.5/24]\n", top="  stop_grace_period: 11m\n"),
        "stop_grace_period",
        "at most 600s",
        3,
    ),
    (
        "preempt-delay-too-long",
        stack("web:\n  addresses: [10.0.0.5/24]\n  preempt_delay: 1001\n"),
        "vips.web.preempt_delay",
        "at most 1000s",
        6,
    ),
    (
        "check-interval-too-long",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  checks:\n    - {name: a, tcp: '127.0.0.1:1', interval: 2h}\n"
        ),
        "checks[0].interval",
        "at most 3600s",
        7,
    ),
    # AUDIT-2 #21: a scoped VIP address (the scope was dropped when rendered)
    (
        "scoped-vip-address",
        stack("web:\n  addresses: ['fd00::100%x y/64']\n"),
        "vips.web.addresses[0]",
        "scope id",
        5,
    ),
    # issue point 10: an auth_secret the file does not declare
    (
        "undeclared-auth-secret",
        stack("web:\n  addresses: [10.0.0.5/24]\n  auth_secret: vrrp\n  timers: compat\n"),
        "vips.web.auth_secret",
        "not declared under the top-level secrets",
        6,
    ),
    (
        "auth-secret-declared-without-source",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  auth_secret: vrrp\n  timers: compat\n",
            head="secrets:\n  vrrp: {name: x}\n",
        ),
        "secrets.vrrp",
        "neither file: nor external: true",
        3,
    ),
    # issue #11 point 5: compose conventions (merge keys, Go durations, Swarm's constraint keys)
    (
        "merge-key-of-a-scalar",
        stack("web:\n  <<: 5\n  addresses: [10.0.0.5/24]\n"),
        "vips.web.<<",
        "merge key (<<) takes a mapping",
        5,
    ),
    (
        "merge-key-list-of-scalars",
        "x-a: &a 1\n" + stack("web:\n  <<: [*a]\n  addresses: [10.0.0.5/24]\n"),
        "vips.web.<<",
        "merge key (<<) takes a mapping",
        6,
    ),
    (
        "merged-value-checked-at-the-anchor",
        "x-a: &a {vrid: 0}\n" + stack("web:\n  <<: *a\n  addresses: [10.0.0.5/24]\n"),
        "vips.web.vrid",
        "whole number",
        1,
    ),
    (
        "duration-part-without-unit",
        stack("web:\n  addresses: [10.0.0.5/24]\n  preempt_delay: 1m30\n"),
        "vips.web.preempt_delay",
        "not a duration",
        6,
    ),
    (
        "duration-unknown-unit",
        stack("web:\n  addresses: [10.0.0.5/24]\n  preempt_delay: 1d\n"),
        "vips.web.preempt_delay",
        "not a duration",
        6,
    ),
    (
        "duration-compound-too-long",
        stack("web:\n  addresses: [10.0.0.5/24]\n  preempt_delay: 16m41s\n"),
        "vips.web.preempt_delay",
        "at most 1000s",
        6,
    ),
    (
        "constraint-node-ip-not-an-address",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  placement:\n    constraints: ['node.ip == edge']\n"
        ),
        "placement.constraints[0]",
        "node.ip needs an address or a CIDR",
        7,
    ),
    (
        "constraint-value-with-operator",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  placement:\n"
            "    constraints: ['node.labels.a == b>c']\n"
        ),
        "placement.constraints[0]",
        "not a constraint value Swarm accepts",
        7,
    ),
    (
        "constraint-platform-without-attribute",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  placement:\n"
            "    constraints: ['node.platform == linux']\n"
        ),
        "placement.constraints[0]",
        "unknown constraint key",
        7,
    ),
    (
        "constraint-role-any-case-still-two-roles",
        stack(
            "web:\n  addresses: [10.0.0.5/24]\n  placement:\n    constraints: ['node.role == Boss']\n"
        ),
        "placement.constraints[0]",
        "manager or worker",
        7,
    ),
    ("override-tag-custom-scalar", in_group("vrid: !overide 7"), "vips.w.vrid", "cannot read", 1),
]


@pytest.mark.parametrize(
    ("text", "key", "message", "line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_refused_with_key_and_line(
    text: str, key: str, message: str, line: int | None
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_stack(text, "stack.yml")
    matching = [p for p in caught.value.problems if key in p.key and message in p.message + p.fix]
    assert matching, f"no problem at {key!r} saying {message!r} in:\n{caught.value}"
    assert all(p.file == "stack.yml" for p in caught.value.problems)
    if line is not None:
        assert matching[0].line == line, str(matching[0])


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


def test_every_problem_is_reported_at_once() -> None:
    text = stack("web:\n  adresses: [10.0.0.5/24]\n  vrid: 999\n  timers: turbo\n")
    with pytest.raises(ConfigError) as caught:
        parse_stack(text, "stack.yml")
    keys = {p.key for p in caught.value.problems}
    assert {
        "x-swarmvip.vips.web.adresses",
        "x-swarmvip.vips.web.vrid",
        "x-swarmvip.vips.web.timers",
    } <= keys


def test_message_names_file_line_key_and_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_stack(stack("web:\n  addresses: [10.0.0.5/24]\n  vrid: 0\n"), "edge.yml")
    assert str(caught.value) == (
        "edge.yml:6: x-swarmvip.vips.web.vrid: 0 is not a whole number from 1 to 255"
        " (fix: use a number between 1 and 255)"
    )


def test_password_file_longer_than_eight_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pass.txt").write_text("123456789\n")
    text = stack(
        "web:\n  addresses: [10.0.0.5/24]\n  auth_secret: vrrp\n  timers: compat\n",
        head="secrets:\n  vrrp:\n    file: pass.txt\n",
    )
    with pytest.raises(ConfigError) as caught:
        parse_stack(text, "stack.yml", str(tmp_path))
    assert "1 to 8 printable" in str(caught.value)
    assert "123456789" not in str(caught.value)


def test_password_file_of_eight_is_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pass.txt").write_text("12345678\n")
    text = stack(
        "web:\n  addresses: [10.0.0.5/24]\n  auth_secret: vrrp\n  timers: compat\n",
        head="secrets:\n  vrrp:\n    file: pass.txt\n",
    )
    spec = parse_stack(text, "stack.yml", str(tmp_path))
    assert spec.secrets[0].data == b"12345678"

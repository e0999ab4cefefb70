"""Audit 1, 13, 14, 18, 20, 21 and issue point 10: input that must be refused, cleanly and early.

Each test here failed on the code before the fix: scoped addresses were accepted (and rendered),
hostnames went raw into router_id, NaN/inf durations passed or raised tracebacks, YAML alias
bombs took seconds to minutes, external secrets were counted in characters, and an auth_secret
that the file never declared was silently treated as an external swarm secret.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from swarmvip.agent import keepalived
from swarmvip.agent.keepalived import SecretError
from swarmvip.cli import main
from swarmvip.errors import ConfigError, ExitCode
from swarmvip.model import InstancePlan, Node, NodePlan
from swarmvip.plan.build import build_plan
from swarmvip.plan.node_labels import node_settings
from swarmvip.render import RenderError, render_keepalived
from swarmvip.spec.problems import Source
from swarmvip.spec.stackfile import parse_stack
from swarmvip.spec.values import vip_address
from swarmvip.spec.yamlload import MAX_ALIASED

from .builders import THREE, node, spec

# The audit's payload (repro r1b_scope.py): an IPv6 scope id closing the unicast_peer block.
SCOPE_PAYLOAD = (
    "fd00::12%x\n    }\n"
    '    notify_backup "python3 -c \'exec(bytes.fromhex(\\"41\\"))\'"\n'
    "    unicast_peer {\n        fd00::13"
)
HOSTNAME_PAYLOAD = 'n1\n    notify "touch x"\n}\nglobal_defs {'
V6 = "web:\n  addresses: ['fd00::100/64']\n"
V6_NODES = (
    node("node1", "fd00::11"),
    node("node2", "fd00::12"),
    node("node3", "fd00::13"),
)


def _problems(exc: ConfigError) -> str:
    return "\n".join(str(p) for p in exc.problems)


# --- audit 1: unicast labels and VIP addresses -------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("swarmvip.unicast6", SCOPE_PAYLOAD),
        ("swarmvip.unicast6", "fd00::12%eth0"),
        ("swarmvip.unicast", "fd00::12%1"),
        ("swarmvip.unicast", " 10.0.0.12"),
        ("swarmvip.unicast", "10.0.0.12\n"),
    ],
)
def test_unicast_label_with_scope_or_space_is_refused(key: str, value: str) -> None:
    settings, problems = node_settings(
        node("node2", "10.0.0.12", **{key.replace(".", "__"): value})
    )
    assert settings.unicast is None and settings.unicast6 is None
    assert len(problems) == 1
    assert problems[0].key == f"label {key}" and "scope" in problems[0].message


def test_plain_unicast_labels_still_work() -> None:
    settings, problems = node_settings(
        node("n", "10.0.0.1", swarmvip__unicast="10.0.0.12", swarmvip__unicast6="FD00::0012")
    )
    assert problems == []
    assert str(settings.unicast) == "10.0.0.12" and str(settings.unicast6) == "fd00::12"


def test_audit_scope_payload_never_reaches_any_members_config() -> None:
    evil = (*V6_NODES[:1], node("node2", "fd00::12", swarmvip__unicast6=SCOPE_PAYLOAD), V6_NODES[2])
    with pytest.raises(ConfigError) as caught:
        build_plan(spec(V6), "s", evil)
    text = _problems(caught.value)
    assert "label swarmvip.unicast6" in text and "node2" in text
    assert "\n    notify_backup" not in text  # the value is quoted, never printed raw


@pytest.mark.parametrize("value", ["fd00::100%x y/64", "fd00::100%eth0/64", "10.0.0.5 /24"])
def test_vip_address_with_scope_or_space_is_refused(value: str) -> None:
    src = Source(file="stack.yml")
    assert vip_address(src, ("x-swarmvip", "vips", "web", "addresses", 0), value) is None
    [problem] = src.problems
    assert problem.key == "x-swarmvip.vips.web.addresses[0]" and problem.fix


def test_scoped_vip_in_a_stack_file_names_file_key_and_fix() -> None:
    text = "x-swarmvip:\n  vips:\n    w:\n      addresses: ['fd00::100%x y/64']\n"
    with pytest.raises(ConfigError) as caught:
        parse_stack(text, "edge.yml")
    [problem] = caught.value.problems
    assert (problem.file, problem.line) == ("edge.yml", 4)
    assert problem.key == "x-swarmvip.vips.w.addresses[0]"
    assert "scope id" in problem.message and "%ZONE" in problem.fix


def test_vip_address_in_netmask_form_is_still_accepted() -> None:
    src = Source(file="stack.yml")
    addr = vip_address(src, ("a",), "10.0.0.5/255.255.255.0")
    assert addr is not None and addr.with_prefixlen == "10.0.0.5/24"
    assert src.problems == []


# --- audit 18: hostnames ---------------------------------------------------------------------


def _renamed(base: Node, hostname: str) -> Node:
    """A node whose hostname bypasses the builder (which names the id after the hostname)."""
    return dataclasses.replace(base, hostname=hostname)


@pytest.mark.parametrize("hostname", [HOSTNAME_PAYLOAD, "a b", "host{", "", "-x", "x" * 254])
def test_member_with_invalid_hostname_is_refused_naming_node_id(hostname: str) -> None:
    bad = _renamed(node("placeholder", "10.213.0.14"), hostname)
    with pytest.raises(ConfigError) as caught:
        build_plan(spec("web:\n  addresses: [10.213.0.100/24]\n"), "s", (*THREE, bad))
    [problem] = caught.value.problems
    assert "id-placeholder" in problem.message and "rename the host" in problem.fix
    assert repr(hostname) in problem.message and "\n" not in str(problem)


def test_invalid_hostname_outside_the_groups_placement_is_ignored() -> None:
    bad = _renamed(node("x", "10.213.0.14"), "a b")
    vips = (
        "web:\n  addresses: [10.213.0.100/24]\n"
        "  placement:\n    constraints: [node.role == manager]\n"
    )
    plan = build_plan(spec(vips), "s", (*THREE, bad))
    assert [n.hostname for n in plan.nodes] == ["node1"]


@pytest.mark.parametrize(
    "hostname", ["node1", "web.1", "ip-172-31-45-121.eu-central-1", "docker_host"]
)
def test_ordinary_hostnames_pass(hostname: str) -> None:
    plan = build_plan(
        spec("web:\n  addresses: [10.213.0.100/24]\n"), "s", (node(hostname, "10.213.0.11"),)
    )
    assert f"router_id {hostname}\n" in render_keepalived(plan.nodes[0], "s")


# --- defence in depth: the renderer refuses what validation might miss -------------------------


def _one_plan() -> NodePlan:
    return build_plan(spec("web:\n  addresses: [10.213.0.100/24]\n"), "s", THREE).nodes[0]


@pytest.mark.parametrize("field", ["hostname", "node_id", "unicast_src", "peer", "group", "stack"])
def test_renderer_refuses_unsafe_values_that_skipped_validation(field: str) -> None:
    plan = _one_plan()
    inst = plan.instances[0]
    evil = "x\n}\nglobal_defs {"
    stack = "s"
    if field in ("hostname", "node_id"):
        plan = dataclasses.replace(plan, **{field: evil})
    elif field == "stack":
        stack = evil
    else:
        changed = {
            "unicast_src": {"unicast_src": SCOPE_PAYLOAD},
            "peer": {"peers": (inst.peers[0], SCOPE_PAYLOAD)},
            "group": {"group": "web {"},
        }[field]
        plan = dataclasses.replace(plan, instances=(dataclasses.replace(inst, **changed),))
    with pytest.raises(RenderError) as caught:
        render_keepalived(plan, stack)
    assert caught.value.exit_code == ExitCode.USAGE
    assert "refusing to render" in str(caught.value)


# --- audit 13: durations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vip_extra", "top", "key"),
    [
        ("  timers: {advert_int: .nan}\n", "", "timers.advert_int"),
        ("  timers: {advert_int: .inf}\n", "", "timers.advert_int"),
        ("  timers: {advert_int: 256, version: 2}\n", "", "timers.advert_int"),
        ("  preempt_delay: .nan\n", "", "preempt_delay"),
        ("  preempt_delay: 1001\n", "", "preempt_delay"),
        ("  preempt_delay: 2h\n", "", "preempt_delay"),
        ("", "  stop_grace_period: .inf\n", "stop_grace_period"),
        ("", "  stop_grace_period: 11m\n", "stop_grace_period"),
        ("  checks: [{name: a, tcp: '127.0.0.1:1', interval: .nan}]\n", "", "interval"),
        ("  checks: [{name: a, tcp: '127.0.0.1:1', interval: 2h}]\n", "", "interval"),
        ("  checks: [{name: a, tcp: '127.0.0.1:1', timeout: -.inf}]\n", "", "timeout"),
        ("  checks: [{name: a, tcp: '127.0.0.1:1', interval: 1e400}]\n", "", "interval"),
        (
            "  checks: [{name: a, tcp: '127.0.0.1:1', interval: " + "9" * 400 + "}]\n",
            "",
            "interval",
        ),
    ],
)
def test_non_finite_or_huge_durations_are_refused(vip_extra: str, top: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        spec("web:\n  addresses: [10.213.0.100/24]\n" + vip_extra, top=top)
    assert any(p.key.endswith(key) and "duration" in p.message for p in caught.value.problems)


def test_duration_upper_bounds_are_inclusive() -> None:
    parsed = spec(
        "web:\n  addresses: [10.213.0.100/24]\n  preempt_delay: 1000\n"
        "  timers: {advert_int: 255, version: 2}\n"
        "  checks: [{name: a, tcp: '127.0.0.1:1', interval: 1h, timeout: 1h}]\n",
        top="  stop_grace_period: 10m\n",
    )
    group = parsed.groups[0]
    assert (group.preempt_delay, group.timers.advert_int, parsed.stop_grace_period) == (
        1000.0,
        255.0,
        600.0,
    )
    assert (group.checks[0].interval, group.checks[0].timeout) == (3600.0, 3600.0)


def test_validate_of_inf_advert_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "inf.yml"
    file.write_text(
        "x-swarmvip:\n  vips:\n    w:\n      addresses: [10.0.0.100/24]\n"
        "      timers: {advert_int: .inf}\n"
    )
    assert main(["validate", str(file)]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "timers.advert_int" in err and "Traceback" not in err


# --- audit 14: YAML shapes and budgets ---------------------------------------------------------


def _alias_bomb(levels: int) -> str:
    lines = ["l0: &l0 [x,x,x,x,x,x,x,x,x]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\nx-swarmvip: {vips: {w: {addresses: [10.0.0.100/24]}}}\n"


@pytest.mark.parametrize("levels", [5, 7])
def test_alias_bomb_is_refused_quickly(levels: int) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        parse_stack(_alias_bomb(levels), "f.yml")
    assert time.monotonic() - started < 0.5
    assert "aliased" in str(caught.value)


def test_anchors_used_a_few_times_still_work() -> None:
    text = (
        "x-common: &addr [10.0.0.100/24]\n"
        "x-swarmvip:\n  vips:\n    a: {addresses: *addr}\n"
        "    b: {addresses: [10.0.0.101/24], vrid: 9}\n"
    )
    assert [str(g.addresses[0]) for g in parse_stack(text, "f.yml").groups] == [
        "10.0.0.100/24",
        "10.0.0.101/24",
    ]
    assert MAX_ALIASED >= 1000


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("x-swarmvip: " + "[" * 5000 + "]" * 5000 + "\n", "nested"),
        ("x-swarmvip: " + "[" * 100 + "]" * 100 + "\n", "nested"),
        ("? {a: 1}\n: 2\nx-swarmvip: {vips: {w: {addresses: [10.0.0.1/24]}}}\n", "a key is a list"),
        ("x-swarmvip: {vips: {w: {addresses: [!custom 10.0.0.1/24]}}}\n", "cannot read this value"),
    ],
)
def test_odd_yaml_is_a_problem_not_a_traceback(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_stack(text, "f.yml")
    assert fragment in str(caught.value)


# --- issue point 10: auth_secret must be declared ----------------------------------------------

AUTH_VIP = "x-swarmvip:\n  vips:\n    web:\n      addresses: [10.0.0.5/24]\n" + (
    "      auth_secret: vrrp\n      timers: compat\n"
)


def test_undeclared_auth_secret_is_refused_with_key_path_and_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_stack(AUTH_VIP, "stack.yml")
    [problem] = caught.value.problems
    assert problem.key == "x-swarmvip.vips.web.auth_secret" and problem.line == 5
    assert "not declared" in problem.message and "external: true" in problem.fix


@pytest.mark.parametrize(
    "head",
    ["secrets: [vrrp]\n", "secrets:\n  other: {external: true}\n", "secrets:\n  vrrp: {name: x}\n"],
)
def test_auth_secret_without_a_usable_declaration_is_refused(head: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_stack(head + AUTH_VIP, "stack.yml")
    assert any("secret" in p.key for p in caught.value.problems), str(caught.value)


def test_external_declared_auth_secret_is_accepted() -> None:
    parsed = parse_stack("secrets:\n  vrrp: {external: true, name: made-by-hand}\n" + AUTH_VIP, "s")
    [source] = parsed.secrets
    assert (source.name, source.object, source.data) == ("vrrp", "made-by-hand", None)


def test_secret_file_path_must_be_a_string() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_stack("secrets:\n  vrrp: {file: [x]}\n" + AUTH_VIP, "s")
    assert "secrets.vrrp.file" in str(caught.value) and "not a file path" in str(caught.value)


# --- audit 20: external secrets are checked in bytes ------------------------------------------


@pytest.mark.parametrize("text", ["éééééééé", "pässwd", "ab\u00a0cd", b"abc\xff"])
def test_external_secret_must_be_printable_ascii(text: str | bytes) -> None:
    with pytest.raises(SecretError):
        keepalived.validate_secret("web", text)


def test_external_secret_non_utf8_file_is_a_secret_error(tmp_path: Path) -> None:
    (tmp_path / "web").write_bytes(b"\xe9\xe9\xe9\n")
    with pytest.raises(SecretError):
        keepalived.read_secrets([_with_secret("web")], tmp_path)


def test_external_secret_of_eight_ascii_bytes_is_read(tmp_path: Path) -> None:
    (tmp_path / "web").write_bytes(b"P@ss%^&*\r\n")
    found = keepalived.read_secrets([_with_secret("web")], tmp_path)
    assert found == {"web": "P@ss%^&*"}


def _with_secret(secret: str) -> InstancePlan:
    return dataclasses.replace(_one_plan().instances[0], auth_secret=secret)

"""Compose conventions in stack files (#11 point 5): interpolation, --env-file, merge keys,
compose's durations, several -c files, and every Swarm constraint attribute."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

import pytest

import swarmvip
from swarmvip.cli import main
from swarmvip.errors import ConfigError
from swarmvip.model import Node, Role
from swarmvip.plan.constraints import ConstraintSyntaxError, matches, parse_constraint
from swarmvip.spec import values
from swarmvip.spec.envfile import parse_env_file, read_env_files
from swarmvip.spec.interpolate import TemplateError, substitute
from swarmvip.spec.problems import Source
from swarmvip.spec.specdoc import spec_document
from swarmvip.spec.stackfile import dump_document, parse_stack, read_stack
from swarmvip.spec.yamlload import MAX_ALIASED


def doc(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def group_yaml(extra: str = "", address: str = "10.0.0.100/24") -> str:
    return doc(
        f"""
        version: "3.8"
        x-swarmvip:
          vips:
            web:
              addresses: ["{address}"]
        """
    ) + textwrap.indent(textwrap.dedent(extra), "      ")


def problems(text: str, environ: dict[str, str] | None = None, file: str = "s.yml") -> list[Any]:
    with pytest.raises(ConfigError) as caught:
        parse_stack(text, file, environ=environ if environ is not None else {})
    return list(caught.value.problems)


# --- 1. interpolation: compose's rules -------------------------------------------------------

ENV = {"SET": "value", "EMPTY": ""}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("a-${SET}-b", "a-value-b"),
        ("$SET.x", "value.x"),
        ("${UNSET}", ""),
        ("$UNSET", ""),
        ("${UNSET:-dflt}", "dflt"),
        ("${EMPTY:-dflt}", "dflt"),
        ("${SET:-dflt}", "value"),
        ("${UNSET-dflt}", "dflt"),
        ("${EMPTY-dflt}", ""),
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${SET:?boom}", "value"),
        ("${EMPTY?boom}", ""),
        ("$$", "$"),
        ("$$SET", "$SET"),
        ("$${SET}", "${SET}"),
        ("cost $$5", "cost $5"),
        ("${UNSET:-${SET}}", "value"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("${UNSET:-a}}", "a}"),
        ("no dollar", "no dollar"),
    ],
)
def test_substitution_follows_compose(template: str, expected: str) -> None:
    assert substitute(template, ENV.get) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("${UNSET:?set it please}", "required variable UNSET is unset or empty: set it please"),
        ("${EMPTY:?no}", "required variable EMPTY is unset or empty: no"),
        ("${UNSET?}", "required variable UNSET is unset"),
        ("a $ b", "not a valid template"),
        ("trailing $", "not a valid template"),
        ("${1}", "not a valid template"),
        ("${SET", "never closed"),
        ("${SET!x}", "not a valid template"),
        ("${}", "not a valid template"),
    ],
)
def test_bad_templates_and_missing_values_are_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        substitute(template, ENV.get)
    assert message in caught.value.message


def test_values_are_interpolated_in_the_block_and_the_rest_of_the_document() -> None:
    text = doc(
        """
        services:
          app: {image: "nginx:${TAG:-1.25}"}
        x-swarmvip:
          image: ${REGISTRY}/agent:1
          stop_grace_period: ${GRACE:-20s}
          vips:
            web:
              addresses: [$VIP]
              placement: {constraints: ["node.labels.zone == ${ZONE}"]}
              notify: {master: [/bin/notify, "${SET}", "$$literal"]}
        """
    )
    env = {"REGISTRY": "reg.example", "VIP": "10.0.0.7/24", "ZONE": "eu", "SET": "x"}
    spec = parse_stack(text, "s.yml", environ=env)
    group = spec.groups[0]
    assert spec.image == "reg.example/agent:1"
    assert spec.stop_grace_period == 20.0
    assert str(group.addresses[0]) == "10.0.0.7/24"
    assert str(group.constraints[0]) == "node.labels.zone == eu"
    assert group.notify.master == ("/bin/notify", "x", "$literal")


def test_keys_are_never_interpolated() -> None:
    found = problems(group_yaml("${KEY}: 1\n"), {"KEY": "vrid"})
    assert any(p.key == "x-swarmvip.vips.web.${KEY}" for p in found)


def test_a_required_variable_names_file_line_key_variable_and_message() -> None:
    text = group_yaml("vrid: ${VRID:?the VRRP router id of this site}\n")
    (problem,) = problems(text, file="edge.yml")
    assert problem.file == "edge.yml"
    assert problem.line == 6
    assert problem.key == "x-swarmvip.vips.web.vrid"
    assert "VRID" in problem.message and "the VRRP router id of this site" in problem.message
    assert str(problem).startswith("edge.yml:6: x-swarmvip.vips.web.vrid: required variable VRID")


def test_every_bad_template_is_reported_at_once() -> None:
    text = doc(
        """
        services:
          app: {image: "x:${A?}"}
        x-swarmvip:
          vips:
            web: {addresses: ["${B:?vip}"], notify: {master: ["a $ b"]}}
        """
    )
    keys = {p.key for p in problems(text)}
    assert keys == {
        "services.app.image",
        "x-swarmvip.vips.web.addresses[0]",
        "x-swarmvip.vips.web.notify.master[0]",
    }


def test_interpolated_integers_and_booleans_are_cast_where_compose_casts() -> None:
    text = doc(
        """
        secrets:
          vrrp: {external: "${EXT}"}
        x-swarmvip:
          vips:
            web:
              addresses: [10.0.0.100/24]
              vrid: ${VRID}
              auth_secret: vrrp
              timers: {advert_int: "${ADVERT:-1}", version: "${V:-2}"}
              checks: [{name: c, tcp: "127.0.0.1:1", weight: "${W}", fall: "$F"}]
        """
    )
    env = {"VRID": "42", "EXT": "true", "W": "-20", "F": "3"}
    group = parse_stack(text, "s.yml", environ=env).groups[0]
    assert (group.vrid, group.timers.version, group.checks[0].weight) == (42, 2, -20)
    assert group.checks[0].fall == 3
    # a quoted number written by hand stays a string: validation is as strict as before
    assert any("vrid" in p.key for p in problems(group_yaml("vrid: '42'\n")))


def test_values_are_validated_after_interpolation(tmp_path: Path) -> None:
    bad = {"CMD": "/bin/x\nrm -rf /", "IMG": "evil image", "SECRET": "a;b", "URL": "http://x y"}
    text = doc(
        """
        x-swarmvip:
          image: ${IMG}
          vips:
            web:
              addresses: [10.0.0.100/24]
              notify: {master: ["${CMD}"]}
              checks: [{name: c, http: "${URL}"}]
              auth_secret: ${SECRET}
              timers: compat
        """
    )
    keys = {p.key for p in problems(text, bad)}
    assert {
        "x-swarmvip.image",
        "x-swarmvip.vips.web.notify.master",
        "x-swarmvip.vips.web.checks[0].http",
        "x-swarmvip.vips.web.auth_secret",
    } <= keys
    # the VRRP password file named through a variable is read and checked after interpolation
    (tmp_path / "pass.txt").write_text("way-too-long-password\n")
    secret = doc(
        """
        secrets:
          vrrp: {file: "${PASSFILE}"}
        x-swarmvip:
          vips:
            web: {addresses: [10.0.0.100/24], auth_secret: vrrp, timers: compat}
        """
    )
    with pytest.raises(ConfigError) as caught:
        parse_stack(secret, "s.yml", str(tmp_path), environ={"PASSFILE": "pass.txt"})
    assert "1 to 8 printable" in str(caught.value) and "way-too" not in str(caught.value)


def test_the_stored_spec_holds_interpolated_values_and_reads_back_literally() -> None:
    text = group_yaml('notify: {master: [sh, -c, "echo $$STATE ${WHO}"]}\nvrid: ${VRID}\n')
    spec = parse_stack(text, "s.yml", environ={"WHO": "ops", "VRID": "7"})
    stored = dump_document(spec_document(spec, {}))
    assert "${WHO}" not in stored and "ops" in stored
    again = parse_stack(stored, "swarm config s_vip-spec")  # what drain and the controller read
    assert again.groups == spec.groups
    assert again.groups[0].notify.master == ("sh", "-c", "echo $STATE ops")


def test_the_agents_hook_variables_stay_for_the_hook_when_unset() -> None:
    text = group_yaml(
        'notify: {master: [sh, -c, "echo $SWARMVIP_STATE ${SWARMVIP_GROUP} $$SWARMVIP_VIPS $X"]}\n'
    )
    group = parse_stack(text, "s.yml", environ={"X": "x"}).groups[0]
    assert group.notify.master[2] == "echo $SWARMVIP_STATE ${SWARMVIP_GROUP} $SWARMVIP_VIPS x"
    # elsewhere compose's rule: unset is empty, and the empty argument is then refused
    check = group_yaml('checks: [{name: c, command: [echo, "$SWARMVIP_STATE"]}]\n')
    assert [p.key for p in problems(check)] == ["x-swarmvip.vips.web.checks[0].command"]


def test_parse_stack_without_an_environment_reads_text_literally() -> None:
    spec = parse_stack(group_yaml("notify: {master: [echo, $HOME]}\n"), "s.yml")
    assert spec.groups[0].notify.master == ("echo", "$HOME")


# --- --env-file ------------------------------------------------------------------------------


def test_env_file_format_follows_compose() -> None:
    text = doc(
        """
        # a comment
        PLAIN=value
        SPACED = spaced value   # trailing comment
        export EXPORTED=yes
        HASH=a#b
        SINGLE='literal ${PLAIN} # not a comment'
        DOUBLE="line1\\nline2 \\"q\\" \\$PLAIN ${PLAIN}"
        MULTI="first
        second"
        EMPTY=
        REF=${PLAIN}-${FROM_ENV:-none}
        """
    )
    found = parse_env_file(text, ".env", {}.get)
    assert found == {
        "PLAIN": "value",
        "SPACED": "spaced value",
        "EXPORTED": "yes",
        "HASH": "a#b",
        "SINGLE": "literal ${PLAIN} # not a comment",
        "DOUBLE": 'line1\nline2 "q" $PLAIN value',
        "MULTI": "first\nsecond",
        "EMPTY": "",
        "REF": "value-none",
    }


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("GOOD=1\nnot an assignment\n", 2, "is not NAME=VALUE"),
        ("1BAD=x\n", 1, "is not NAME=VALUE"),
        ("OK=1\nQ='never closed\n", 2, "never closed"),
        ('Q="x" junk\n', 1, "after the closing quote"),
        ("R=${MISSING:?needed}\n", 1, "required variable MISSING"),
    ],
)
def test_env_file_errors_name_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_env_file(text, "prod.env", {}.get)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == ("prod.env", line)
    assert message in problem.message


def test_the_environment_wins_over_env_files_and_a_later_env_file_wins(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("VIP=10.0.0.1/24\nVRID=10\nGRACE=5s\n")
    (tmp_path / "b.env").write_text("VRID=20\n")
    (tmp_path / "s.yml").write_text(
        group_yaml("vrid: ${VRID}\n", "${VIP}").replace(
            "vips:", "stop_grace_period: $GRACE\n  vips:"
        )
    )
    spec = read_stack(
        str(tmp_path / "s.yml"),
        env_files=[str(tmp_path / "a.env"), str(tmp_path / "b.env")],
        environ={"VIP": "10.0.0.9/24"},
    )
    assert str(spec.groups[0].addresses[0]) == "10.0.0.9/24"  # the environment
    assert spec.groups[0].vrid == 20  # b.env over a.env
    assert spec.stop_grace_period == 5.0  # a.env where nothing else has it
    assert read_env_files([("X=${Y}\n", "e")], {"Y": "from-env"}) == {"X": "from-env"}


# --- 2. YAML merge keys ----------------------------------------------------------------------

MERGE = doc(
    """
    x-base: &base
      addresses: [10.0.0.100/24]
      preemption: sticky
      timers: compat
    x-timers: &fast {timers: fast, preemption: preferred, vrid: 9}
    x-swarmvip:
      vips:
        one:
          <<: *base
        two:
          <<: *base
          addresses: [10.0.0.101/24]
          preemption: preferred
        three:
          <<: [*fast, *base]
          addresses: [10.0.0.102/24]
    """
)


def test_merge_keys_work_and_explicit_keys_win() -> None:
    groups = {g.name: g for g in parse_stack(MERGE, "s.yml").groups}
    assert str(groups["one"].preemption) == "sticky" and groups["one"].timers.version == 2
    assert str(groups["two"].addresses[0]) == "10.0.0.101/24"
    assert str(groups["two"].preemption) == "preferred"
    # in a list of merged mappings the earlier one wins
    assert groups["three"].timers.advert_int == 0.1 and groups["three"].vrid == 9


def test_a_problem_in_a_merged_value_points_at_the_anchor_line() -> None:
    text = doc(
        """
        x-base: &base
          addresses: [10.0.0.100/24]
          vrid: 999
        x-swarmvip:
          vips:
            web: {<<: *base}
        """
    )
    (problem,) = problems(text)
    assert (problem.key, problem.line) == ("x-swarmvip.vips.web.vrid", 3)


def test_a_merge_key_of_a_scalar_is_refused() -> None:
    found = problems(
        doc("x-swarmvip:\n  vips:\n    web:\n      <<: 5\n      addresses: [10.0.0.1/24]\n")
    )
    assert any("merge key" in p.message and p.line == 4 for p in found)


def test_merge_keys_stay_within_the_alias_budget() -> None:
    lines = ["a0: &a0 {k0: x, k1: x, k2: x, k3: x, k4: x, k5: x, k6: x, k7: x, k8: x}"]
    for i in range(1, 8):
        keys = ", ".join(f"m{j}: *a{i - 1}" for j in range(9))
        lines.append(f"a{i}: &a{i} {{<<: *a{i - 1}, {keys}}}")
    text = "\n".join(lines) + "\nx-swarmvip: {vips: {w: {addresses: [10.0.0.100/24]}}}\n"
    found = problems(text)
    assert any(f"{MAX_ALIASED} aliased" in p.message for p in found)


# --- 3. durations: compose's (Go's) grammar --------------------------------------------------


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("2", 2.0),
        (2, 2.0),
        (0.5, 0.5),
        ("2s", 2.0),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        ("1m30s", 90.0),
        ("1h2m", 3720.0),
        ("1m0.5s", 60.5),
        ("2000000us", 2.0),
        ("2000000\u00b5s", 2.0),
        ("1500000000ns", 1.5),
        (".5s", 0.5),
        ("+3s", 3.0),
    ],
)
def test_durations_accept_compose_grammar(written: Any, seconds: float) -> None:
    src = Source(file="s.yml")
    assert values.duration(src, ("d",), written, maximum=86400) == pytest.approx(seconds)
    assert src.problems == []


def test_a_compose_duration_in_a_stack_file() -> None:
    text = group_yaml("preempt_delay: 1m30s\nchecks: [{name: c, tcp: 'h:1', interval: 1m0.5s}]\n")
    group = parse_stack(text.replace("vips:", "stop_grace_period: 2m\n  vips:"), "s.yml").groups[0]
    assert (group.preempt_delay, group.checks[0].interval) == (90.0, 60.5)


@pytest.mark.parametrize(
    "written",
    [
        "1m30",
        "1d",
        "2 s",
        "s",
        "1.5.5s",
        "-5s",
        "1e3s",
        "2sec",
        "11m",
        ".nan",
        ".inf",
        "1e400",
        "9" * 400 + "h",
    ],
)
def test_bad_durations_and_out_of_bounds_are_refused(written: str) -> None:
    found = problems(
        f"x-swarmvip: {{stop_grace_period: {written}, vips: {{w: {{addresses: [10.0.0.1/24]}}}}}}\n"
    )
    assert [p.key for p in found] == ["x-swarmvip.stop_grace_period"]


# --- 4. several -c files, and standard input -------------------------------------------------

BASE = doc(
    """
    version: "3.8"
    x-swarmvip:
      image: swarmvip/agent:1
      vips:
        web:
          addresses: [10.0.0.100/24]
          placement: {constraints: [node.labels.edge == true]}
          notify: {master: [/bin/a, one]}
          timers: {advert_int: 1, version: 2}
    """
)
OVER = doc(
    """
    x-swarmvip:
      image: swarmvip/agent:2
      vips:
        web:
          addresses: [10.0.0.101/24]
          placement: {constraints: [node.labels.zone == b]}
          notify: {master: [/bin/b]}
          timers: {advert_int: 2}
        db:
          addresses: [10.0.1.100/24]
    """
)


def write(tmp_path: Path, **files: str) -> list[str]:
    for name, text in files.items():
        (tmp_path / f"{name}.yml").write_text(text)
    return [str(tmp_path / f"{name}.yml") for name in files]


def test_later_files_merge_as_compose_merges(tmp_path: Path) -> None:
    spec = read_stack(write(tmp_path, base=BASE, over=OVER), environ={})
    groups = {g.name: g for g in spec.groups}
    web = groups["web"]
    assert spec.image == "swarmvip/agent:2"  # a scalar: replaced
    assert [str(a) for a in web.addresses] == ["10.0.0.100/24", "10.0.0.101/24"]  # appended
    assert [str(c) for c in web.constraints] == [
        "node.labels.edge == true",
        "node.labels.zone == b",
    ]
    assert web.notify.master == ("/bin/b",)  # a command is replaced, as compose's command
    assert (web.timers.advert_int, web.timers.version) == (2.0, 2)  # mappings key by key
    assert set(groups) == {"web", "db"}
    assert spec.path.endswith("base.yml")


def test_override_and_reset_tags(tmp_path: Path) -> None:
    over = doc(
        """
        x-swarmvip:
          image: !reset null
          vips:
            web:
              addresses: !override [10.0.0.200/24]
              placement: !reset {}
        """
    )
    spec = read_stack(write(tmp_path, base=BASE, over=over), environ={})
    web = spec.groups[0]
    assert [str(a) for a in web.addresses] == ["10.0.0.200/24"]
    assert web.constraints == ()
    assert spec.image == swarmvip.DEFAULT_IMAGE  # the default again


def test_problems_name_the_file_and_line_the_value_came_from(tmp_path: Path) -> None:
    over = doc(
        """
        x-swarmvip:
          vips:
            web:
              vrid: 300
              addresses: [10.0.0.5/33]
              timers: {advert_int: 1.5}
        """
    )
    files = write(tmp_path, base=BASE, over=over)
    with pytest.raises(ConfigError) as caught:
        read_stack(files, environ={})
    where = {p.key: (Path(p.file).name, p.line) for p in caught.value.problems}
    assert where["x-swarmvip.vips.web.vrid"] == ("over.yml", 4)
    assert where["x-swarmvip.vips.web.addresses[1]"] == ("over.yml", 5)
    assert where["x-swarmvip.vips.web.timers.advert_int"] == ("over.yml", 6)


def test_a_mapping_and_a_list_do_not_merge(tmp_path: Path) -> None:
    over = "x-swarmvip:\n  vips:\n    web:\n      placement: [x]\n"
    with pytest.raises(ConfigError) as caught:
        read_stack(write(tmp_path, base=BASE, over=over), environ={})
    (problem,) = caught.value.problems
    assert problem.key == "x-swarmvip.vips.web.placement" and "cannot be merged" in problem.message


def test_each_file_is_interpolated_and_its_errors_name_it(tmp_path: Path) -> None:
    over = "x-swarmvip:\n  vips:\n    web:\n      vrid: ${NOPE:?say which}\n"
    with pytest.raises(ConfigError) as caught:
        read_stack(write(tmp_path, base=BASE, over=over), environ={})
    (problem,) = caught.value.problems
    assert (Path(problem.file).name, problem.line) == ("over.yml", 4)
    assert "say which" in problem.message


def test_standard_input_is_a_file_and_secrets_are_relative_to_the_first(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pw").write_text("secret1\n")
    base = BASE + "secrets:\n  vrrp: {file: ./pw}\n"
    over = "x-swarmvip:\n  vips:\n    web: {auth_secret: vrrp}\n"
    (first,) = write(tmp_path / "sub", base=base)
    spec = read_stack([first, "-"], environ={}, stdin=io.StringIO(over))
    assert spec.secrets[0].data == b"secret1"
    with pytest.raises(ConfigError) as caught:
        read_stack(["-", "-"], environ={}, stdin=io.StringIO(over))
    assert "named twice" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        read_stack(
            [first, "-"], environ={}, stdin=io.StringIO("x-swarmvip: {vips: {web: {vrid: 0}}}\n")
        )
    assert caught.value.problems[0].file == "<stdin>"


def test_cli_takes_several_files_an_env_file_and_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, over = write(tmp_path, base=BASE, over=OVER)
    assert main(["validate", base, "-c", over]) == 0
    assert "2 VIP group(s)" in capsys.readouterr().out
    assert main(["validate", "-c", base, "-c", over]) == 0
    assert "base.yml + " in capsys.readouterr().out
    (env,) = write(tmp_path, vars="VRID=77\n")
    (needs,) = write(tmp_path, needs=group_yaml("vrid: ${VRID:?give a VRID}\n"))
    monkeypatch.delenv("VRID", raising=False)
    assert main(["validate", needs]) == 2
    err = capsys.readouterr().err
    assert "needs.yml:6: x-swarmvip.vips.web.vrid: required variable VRID" in err
    assert "give a VRID" in err
    assert main(["validate", needs, "--env-file", env]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(BASE))
    assert main(["validate", "-"]) == 0
    assert main(["validate"]) == 2


@pytest.mark.parametrize(
    ("argv", "first", "files"),
    [
        (["plan", "a.yml"], "a.yml", ["a.yml"]),
        (["plan", "-c", "a.yml", "-c", "b.yml"], "a.yml", ["a.yml", "b.yml"]),
        (["deploy", "a.yml", "-c", "b.yml", "--stack", "s"], "a.yml", ["a.yml", "b.yml"]),
        (["render", "-o", "out", "--compose-file", "-"], "-", ["-"]),
        (["validate", "-c", "b.yml", "a.yml"], "a.yml", ["a.yml", "b.yml"]),
    ],
)
def test_every_stack_command_takes_the_files_and_file_is_the_first(
    argv: list[str], first: str, files: list[str]
) -> None:
    from swarmvip.cli import build_parser
    from swarmvip.commands.stack import _stack_files

    args = build_parser().parse_args(argv)
    assert (args.file, _stack_files(args)) == (first, files)


# --- 5. constraints: every attribute Swarm has -----------------------------------------------


def node(**kw: Any) -> Node:
    base: dict[str, Any] = {
        "id": "n1",
        "hostname": "edge-1",
        "role": Role.MANAGER,
        "availability": "active",
        "state": "ready",
        "addr": "10.1.2.3",
        "labels": (("zone", "EU"),),
        "os": "linux",
        "arch": "x86_64",
    }
    return Node(**(base | kw))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("node.role == Manager", True),
        ("node.role == MANAGER", True),
        ("node.role != worker", True),
        ("Node.Role == manager", True),
        ("node.platform.os == Linux", True),
        ("node.platform.os != windows", True),
        ("node.platform.arch == X86_64", True),
        ("node.platform.arch == aarch64", False),
        ("node.labels.zone == eu", True),
        ("NODE.LABELS.zone == eu", True),
        ("node.labels.Zone == eu", False),  # the label name keeps its case
        ("node.hostname == EDGE-1", True),
        ("node.ip == 10.1.2.3", True),
        ("node.ip == 10.1.0.0/16", True),
        ("node.ip != 10.9.0.0/16", True),
        ("node.ip == 10.9.0.0/16", False),
    ],
)
def test_constraints_match_as_swarm_does(text: str, expected: bool) -> None:
    assert matches(node(), parse_constraint(text)) is expected


def test_unknown_platform_never_equals() -> None:
    bare = node(os="", arch="")
    assert not matches(bare, parse_constraint("node.platform.os == linux"))
    assert matches(bare, parse_constraint("node.platform.arch != x86_64"))


@pytest.mark.parametrize(
    "text",
    [
        "node.role == boss",
        "node.ip == not-an-ip",
        "node.ip == 10.0.0.0/99",
        "node.labels.a == b>c",
        "node.platform == linux",
        "node.labels. == x",
    ],
)
def test_constraints_swarm_refuses_are_refused(text: str) -> None:
    with pytest.raises(ConstraintSyntaxError):
        parse_constraint(text)


def test_case_insensitive_role_in_a_stack_file() -> None:
    spec = parse_stack(group_yaml("placement: {constraints: [node.role == Manager]}\n"), "s.yml")
    assert str(spec.groups[0].constraints[0]) == "node.role == Manager"

"""x-swarmvip.agent: environment, secrets, configs and read-only binds for the keepalived tasks.

Validation (every refusal names the file, the key and a fix), the service spec each task gets,
and the stored spec's round trip (a re-plan from it must hash every service the same).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from swarmvip.errors import ConfigError
from swarmvip.model import SecretSource, StackSpec, TaskBind, TaskFile
from swarmvip.ops.deploy import ObservedStack, materialize, stored_spec
from swarmvip.plan.build import build_plan
from swarmvip.plan.desired import DesiredService, DesiredState, desired_state
from swarmvip.plan.diff import Observed
from swarmvip.render import render_keepalived
from swarmvip.spec.agentblock import AGENT_KEYS, FILE_KEYS, VOLUME_KEYS
from swarmvip.spec.stackfile import parse_stack
from swarmvip.wire import agentspec

from .builders import THREE

ROOT = Path(__file__).resolve().parents[2]
HEAD = "x-swarmvip:\n  vips:\n    web: {addresses: [10.213.0.100/24]}\n  agent:\n"


def stack(agent: str, tail: str = "", base_dir: str = ".") -> StackSpec:
    text = HEAD + textwrap.indent(textwrap.dedent(agent), "    ") + textwrap.dedent(tail)
    return parse_stack(text, "s.yml", base_dir)


def refused(agent: str, tail: str = "", base_dir: str = ".") -> list[tuple[str, str, str]]:
    with pytest.raises(ConfigError) as caught:
        stack(agent, tail, base_dir)
    problems = caught.value.problems
    assert all(p.file == "s.yml" and p.fix for p in problems)
    return [(p.key, p.message, p.fix) for p in problems]


def one(agent: str, tail: str = "", base_dir: str = ".") -> tuple[str, str, str]:
    found = refused(agent, tail, base_dir)
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "token.txt").write_bytes(b"a long API token, not a VRRP password\n")
    (tmp_path / "app.conf").write_text("endpoint = https://api.example.com\n")
    (tmp_path / "vrrp.txt").write_text("s3cret\n")
    return tmp_path


# --- environment ------------------------------------------------------------------------
def test_environment_as_a_mapping_or_a_list_sorted_by_name() -> None:
    assert stack("environment: {B: 'x y', A: 1, C: ''}\n").agent.environment == (
        ("A", "1"),
        ("B", "x y"),
        ("C", ""),
    )
    listed = stack("environment: [B=2, A=a=b, B=3]\n").agent.environment
    assert listed == (("A", "a=b"), ("B", "3"))  # a later entry wins, as compose merges


@pytest.mark.parametrize(
    "name", ["SWARMVIP_STATE", "SWARMVIP_STOP_GRACE", "SWARMVIP_IFACE", "PYTHONPATH", "PATH"]
)
def test_the_agents_own_variables_cannot_be_set(name: str) -> None:
    key, message, fix = one(f"environment: {{{name}: x}}\n")
    assert key == f"x-swarmvip.agent.environment.{name}"
    assert "the agent's own variable" in message and "another name" in fix
    assert one(f"environment: [{name}=x]\n")[0] == "x-swarmvip.agent.environment[0]"


@pytest.mark.parametrize(
    ("agent", "key", "says"),
    [
        ("environment: {1X: a}\n", "environment.1X", "not a variable name"),
        ("environment: {'A-B': a}\n", "environment.A-B", "not a variable name"),
        ("environment: {A: }\n", "environment.A", "no value"),
        ("environment: {A: true}\n", "environment.A", "boolean"),
        ("environment: [A]\n", "environment[0]", "not KEY=VALUE"),
        ("environment: A=1\n", "environment", "mapping or a list"),
        ("environmnet: {A: 1}\n", "environmnet", "unknown key"),
    ],
)
def test_bad_environments_are_refused(agent: str, key: str, says: str) -> None:
    found, message, _ = one(agent)
    assert found == f"x-swarmvip.agent.{key}" and says in message


# --- secrets and configs ----------------------------------------------------------------
SOURCES = """\
secrets:
  token: {file: ./token.txt}
  cloud: {external: true, name: cloud-api-key}
configs:
  app: {file: ./app.conf}
  ext: {external: true}
"""


def test_short_and_long_syntax_with_compose_defaults(files: Path) -> None:
    spec = stack(
        """\
        secrets:
          - token
          - {source: cloud, target: cloud.key, mode: 0440}
          - {source: token, target: /etc/app/token, mode: "0444"}
        configs:
          - app
          - {source: ext, target: /etc/app/ext.conf, mode: 0400}
        """,
        SOURCES,
        str(files),
    )
    assert spec.agent.secrets == (
        TaskFile("token", "/run/secrets/token", 0o400),
        TaskFile("cloud", "/run/secrets/cloud.key", 0o440),
        TaskFile("token", "/etc/app/token", 0o444),
    )
    assert spec.agent.configs == (
        TaskFile("app", "/app", 0o444),
        TaskFile("ext", "/etc/app/ext.conf", 0o400),
    )
    token = (files / "token.txt").read_bytes()  # as is: not a password, nothing stripped
    assert spec.secrets == (
        SecretSource("cloud", object="cloud-api-key"),
        SecretSource("token", data=token),
    )
    assert spec.agent.config_sources == (
        SecretSource("app", data=(files / "app.conf").read_bytes()),
        SecretSource("ext", object="ext"),
    )


def test_an_auth_secret_mounted_for_hooks_too_is_read_once_as_the_password(files: Path) -> None:
    text = (
        "secrets:\n  vrrp: {file: ./vrrp.txt}\n"
        "x-swarmvip:\n  vips:\n    web:\n      addresses: [10.213.0.100/24]\n"
        "      timers: compat\n      auth_secret: vrrp\n"
        "  agent:\n    secrets: [{source: vrrp, target: /etc/app/vrrp}]\n"
    )
    spec = parse_stack(text, "s.yml", str(files))
    assert spec.secrets == (SecretSource("vrrp", data=b"s3cret"),)


def test_an_undeclared_secret_or_config_is_refused_with_the_declaration_to_add() -> None:
    key, message, fix = one("secrets: [token]\n")
    assert key == "x-swarmvip.agent.secrets[0]"
    assert "'token' is not declared under the top-level secrets:" in message
    assert "secrets: {token: {file: ./token.txt}}" in fix and "external: true" in fix
    key, message, fix = one("configs: [{source: app}]\n")
    assert key == "x-swarmvip.agent.configs[0]" and "top-level configs:" in message
    assert "docker config create" in fix


def test_a_missing_file_and_a_declaration_without_file_or_external(tmp_path: Path) -> None:
    key, message, _ = one("secrets: [t]\n", "secrets:\n  t: {file: ./nope.txt}\n", str(tmp_path))
    assert key == "secrets.t.file" and "cannot read" in message
    (tmp_path / "empty").write_text("")
    key, message, _ = one("configs: [c]\n", "configs:\n  c: {file: ./empty}\n", str(tmp_path))
    assert key == "configs.c.file" and "empty" in message
    key, message, _ = one("configs: [c]\n", "configs:\n  c: {name: x}\n")
    assert key == "configs.c" and "neither file: nor external: true" in message


@pytest.mark.parametrize(
    ("mount", "key", "says"),
    [
        ("secrets: [{source: t, target: /etc/../x}]", "secrets[0].target", "no .."),
        ("secrets: [{source: t, target: /etc/swarmvip/agent.json}]", "secrets[0].target", "shadow"),
        ("secrets: [{source: t, target: /run/swarmvip/x}]", "secrets[0].target", "shadow"),
        ("secrets: [{source: t, target: /etc}]", "secrets[0].target", "shadow"),
        ("secrets: [{source: t, target: /usr/lib/x}]", "secrets[0].target", "shadow"),
        ("secrets: [{source: t, target: /var/run/swarmvip/x}]", "secrets[0].target", "shadow"),
        ("secrets: [{source: t, target: 'a b'}]", "secrets[0].target", "not an absolute"),
        ("secrets: [{source: t, mode: 01000}]", "secrets[0].mode", "not a file mode"),
        ("secrets: [{source: t, mode: rw}]", "secrets[0].mode", "not a file mode"),
        ("secrets: [{source: t, uid: '0'}]", "secrets[0].uid", "unknown key"),
        ("secrets: ['bad name']", "secrets[0]", "not a secret name"),
        ("secrets: t", "secrets", "must be a list"),
        ("configs: [{source: c, target: relative}]", "configs[0].target", "not an absolute"),
        ("configs: [{source: c, target: /}]", "configs[0].target", "not an absolute"),
        ("configs: [{source: c, target: /opt/swarmvip/x}]", "configs[0].target", "shadow"),
    ],
)
def test_bad_targets_and_modes_are_refused(mount: str, key: str, says: str) -> None:
    tail = "secrets: {t: {external: true}}\nconfigs: {c: {external: true}}\n"
    found = refused(mount + "\n", tail)
    assert any(k == f"x-swarmvip.agent.{key}" and says in m for k, m, _ in found), found


def test_a_target_is_mounted_once_and_never_over_an_auth_secret() -> None:
    text = (
        "secrets:\n  vrrp: {external: true}\n  t: {external: true}\n"
        "x-swarmvip:\n  vips:\n    web:\n      addresses: [10.213.0.100/24]\n"
        "      timers: compat\n      auth_secret: vrrp\n"
        "  agent:\n    secrets: [{source: t, target: vrrp}, {source: t, target: /x/t}]\n"
        "    volumes: ['/srv/t:/x/t:ro']\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_stack(text, "s.yml")
    found = {(p.key, p.message) for p in caught.value.problems}
    assert found == {
        (
            "x-swarmvip.agent.secrets[0]",
            "/run/secrets/vrrp is already mounted by the auth_secret of web",
        ),
        ("x-swarmvip.agent.volumes[0]", "/x/t is already mounted by agent.secrets[1]"),
    }


# --- volumes ----------------------------------------------------------------------------
def test_read_only_binds_in_short_and_long_syntax() -> None:
    spec = stack(
        """\
        volumes:
          - /run/haproxy/admin.sock:/run/haproxy.sock:ro
          - {type: bind, source: /etc/ssl/certs, target: /host/certs, read_only: true}
        """
    )
    assert spec.agent.volumes == (
        TaskBind("/run/haproxy/admin.sock", "/run/haproxy.sock"),
        TaskBind("/etc/ssl/certs", "/host/certs"),
    )


@pytest.mark.parametrize(
    ("volume", "key", "says", "fix"),
    [
        ("/a:/b", "volumes[0]", "read-write", ":ro"),
        ("/a:/b:rw", "volumes[0]", "only read-only", ":ro"),
        ("data:/b:ro", "volumes[0]", "a named volume", "bind a host path read-only"),
        ("./a:/b:ro", "volumes[0]", "a relative path", "bind a host path read-only"),
        ("/a", "volumes[0]", "not SOURCE:TARGET:ro", ":ro"),
        ("/var/run/docker.sock:/d.sock:ro", "volumes[0]", "Docker socket", "only the socket"),
        ("/a:/run/swarmvip:ro", "volumes[0]", "shadow", "elsewhere"),
        ("/a:/etc/swarmvip/keepalived.conf:ro", "volumes[0]", "shadow", "elsewhere"),
        ("/a:/run/secrets/x:ro", "volumes[0]", "/run/secrets", "e.g."),
        ("/a:/usr:ro", "volumes[0]", "shadow", "elsewhere"),
        ("/a:/:ro", "volumes[0]", "not an absolute", "normalized"),
        ("{type: bind, source: /a, target: /b}", "volumes[0].read_only", "read-only", "true"),
        (
            "{type: bind, source: /a, target: /b, read_only: false}",
            "volumes[0].read_only",
            "read-only",
            "read_only: true",
        ),
        (
            "{type: volume, source: data, target: /b, read_only: true}",
            "volumes[0].type",
            "'volume' mount",
            "type: bind",
        ),
        (
            "{source: /a, target: /b, read_only: true, bind: {propagation: shared}}",
            "volumes[0].bind",
            "unknown key",
            "allowed keys",
        ),
    ],
)
def test_writable_named_and_shadowing_volumes_are_refused(
    volume: str, key: str, says: str, fix: str
) -> None:
    found = refused(
        f"volumes: ['{volume}']\n" if not volume.startswith("{") else f"volumes: [{volume}]\n"
    )
    assert any(k == f"x-swarmvip.agent.{key}" and says in m and fix in f for k, m, f in found), (
        found
    )


def test_the_schema_names_the_validators_keys() -> None:
    schema = json.loads((ROOT / "schema" / "x-swarmvip.schema.json").read_text())
    agent = schema["properties"]["agent"]
    assert tuple(agent["properties"]) == AGENT_KEYS and agent["additionalProperties"] is False
    assert tuple(schema["$defs"]["agentFile"]["anyOf"][1]["properties"]) == FILE_KEYS
    volume = agent["properties"]["volumes"]["items"]["anyOf"][1]
    assert tuple(volume["properties"]) == VOLUME_KEYS


# --- the service spec ---------------------------------------------------------------------
AGENT = """\
environment: {API_URL: https://api.example.com, MODE: hot}
secrets:
  - token
  - {source: cloud, target: /etc/app/cloud.key, mode: 0440}
configs: [{source: app, target: /etc/app/app.conf}]
volumes: ['/run/haproxy/admin.sock:/run/haproxy.sock:ro']
"""


def deployed(spec: StackSpec, stack_name: str = "s") -> DesiredState:
    """What deploy computes: the stored spec (with its naming) and the desired objects."""
    plan = build_plan(spec, stack_name, THREE)
    confs = {n.node_id: render_keepalived(n, stack_name) for n in plan.nodes}
    specs = {n.node_id: agentspec.to_json(agentspec.AgentSpec(stack_name, n)) for n in plan.nodes}
    stored = stored_spec(spec, stack_name, Observed())  # its naming names the file secrets
    return desired_state(
        plan, confs, specs, spec.secrets, stored.text, stored.naming, agent=spec.agent
    )


def first(desired: DesiredState) -> DesiredService:
    return sorted(desired.services, key=lambda s: s.node_id)[0]


def test_every_task_gets_the_variables_mounts_and_binds(files: Path) -> None:
    from swarmvip.cluster.service_spec import service_spec

    desired = deployed(stack(AGENT, SOURCES, str(files)))
    service = first(desired)
    made = {o.name for o in (*desired.configs, *desired.secrets)}
    ids = {m.source: f"id-{m.source}" for m in (*service.configs, *service.secrets)}
    container = service_spec(service, ids, ids)["task_template"]["ContainerSpec"]
    assert container["Env"] == [
        "SWARMVIP_STOP_GRACE=10",
        f"SWARMVIP_SPEC={service.spec_hash}",
        "SWARMVIP_SERVICE_ID={{.Service.ID}}",
        "API_URL=https://api.example.com",
        "MODE=hot",
    ]
    tmpfs, state, bind = container["Mounts"]
    assert tmpfs["Type"] == "tmpfs"
    assert (state["Type"], state["Source"], state["Target"]) == (
        "volume",
        "s_vip-state",
        "/var/lib/swarmvip",
    )
    assert (bind["Type"], bind["Source"], bind["Target"], bind["ReadOnly"]) == (
        "bind",
        "/run/haproxy/admin.sock",
        "/run/haproxy.sock",
        True,
    )
    secrets = {
        s["File"]["Name"]: (s["SecretName"], s["File"]["Mode"]) for s in container["Secrets"]
    }
    token = next(o.name for o in desired.secrets)
    assert token.startswith("s_vrrp-token-") and token in made  # created as auth secrets are
    assert secrets == {
        "token": (token, 0o400),
        "/etc/app/cloud.key": ("cloud-api-key", 0o440),
        "swarmvip_control_key": ("swarmvip_control_key", 0o400),
    }
    assert desired.external_secrets == ("cloud-api-key",)
    configs = {
        c["File"]["Name"]: (c["ConfigName"], c["File"]["Mode"]) for c in container["Configs"]
    }
    app = configs["/etc/app/app.conf"]
    assert app[0].startswith("s_vip-cf-app-") and app[0] in made and app[1] == 0o444
    assert {"/etc/swarmvip/agent.json", "/etc/swarmvip/keepalived.conf"} < set(configs)
    assert all(c["File"]["Mode"] == 0o444 for c in container["Configs"])


def test_the_service_hash_follows_the_agent_block(files: Path) -> None:
    def hashes(agent: str) -> set[str]:
        return {s.spec_hash for s in deployed(stack(agent, SOURCES, str(files))).services}

    base = hashes(AGENT)
    assert hashes(AGENT.replace("MODE: hot", "MODE: cold")) != base
    assert hashes(AGENT.replace("0440", "0400")) != base
    assert hashes(AGENT.replace("admin.sock:", "stats.sock:")) != base
    (files / "app.conf").write_text("endpoint = https://other.example.com\n")
    assert hashes(AGENT) != base  # a new config, a new name, a new hash


def test_without_an_agent_block_the_hash_is_what_it_was() -> None:
    """Upgrading swarmvip must not restart every keepalived task: the hash of a stack with no
    agent block (or an empty one) is computed exactly as before the block existed."""
    plain = parse_stack("x-swarmvip:\n  vips:\n    web: {addresses: [10.213.0.100/24]}\n", "s.yml")
    empty = stack("{}\n")
    assert {s.spec_hash for s in deployed(plain).services} == {
        s.spec_hash for s in deployed(empty).services
    }
    service = first(deployed(plain))
    assert service.env == () and service.binds == ()
    assert all(m.mode is None for m in (*service.configs, *service.secrets))


# --- the stored spec --------------------------------------------------------------------
def test_the_stored_spec_keeps_no_secret_and_re_plans_to_the_same_services(files: Path) -> None:
    spec = stack(AGENT, SOURCES, str(files))
    first_deploy = deployed(spec)
    stored = next(c for c in first_deploy.configs if "_vip-spec-" in c.name).data.decode()
    assert "API token" not in stored and "endpoint" not in stored  # references only
    again = parse_stack(stored, "swarm config s_vip-spec")  # what drain and the controller read
    assert again.agent.environment == spec.agent.environment
    assert again.agent.secrets == spec.agent.secrets
    assert again.agent.configs == spec.agent.configs
    assert again.agent.volumes == spec.agent.volumes
    assert all(s.data is None for s in (*again.secrets, *again.agent.config_sources))
    replanned = deployed(again)
    assert {(s.name, s.spec_hash) for s in replanned.services} == {
        (s.name, s.spec_hash) for s in first_deploy.services
    }
    assert replanned.secrets == ()
    assert replanned.external_secrets == tuple(
        sorted(["cloud-api-key", *(s.name for s in first_deploy.secrets)])
    )


# --- deploy refuses before the first write ------------------------------------------------
def test_a_missing_external_secret_or_config_is_refused_before_any_write(files: Path) -> None:
    spec = stack(AGENT.replace("configs: [", "configs: [ext, "), SOURCES, str(files))
    plan = build_plan(spec, "s", THREE)
    with pytest.raises(ConfigError) as caught:
        materialize(
            spec,
            plan,
            ObservedStack("s", THREE, {}, {}, secret_names=frozenset(), config_names=frozenset()),
            {},
            stored_spec(spec, "s", Observed()),
        )
    problems = {(p.file, p.key, p.message, p.fix) for p in caught.value.problems}
    assert problems == {
        (
            "s.yml",
            "secrets",
            "swarm secret 'cloud-api-key' does not exist",
            "docker secret create cloud-api-key FILE",
        ),
        (
            "s.yml",
            "configs",
            "swarm config 'ext' does not exist",
            "docker config create ext FILE, or declare it with file: FILE",
        ),
    }

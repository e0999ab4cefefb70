"""Swarm object names: stable per node, valid for swarmkit, secrets salted (audit 5, 6, 19)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmvip.cluster.core import DockerCluster
from swarmvip.errors import ConfigError
from swarmvip.model import Node, Role, SecretSource
from swarmvip.ops.deploy import prepare
from swarmvip.plan.build import build_plan
from swarmvip.plan.desired import (
    SPEC_MARK,
    SecretNaming,
    checked_name,
    desired_state,
    secret_objects,
    service_name,
)
from swarmvip.plan.diff import (
    CreateConfig,
    CreateSecret,
    CreateService,
    EnsureControl,
    Observed,
    ObservedObject,
    ObservedService,
    RemoveConfig,
    RemoveSecret,
    RemoveService,
    UpdateService,
    diff,
)
from swarmvip.render import render_keepalived
from swarmvip.spec.stackfile import parse_stack, read_stack
from swarmvip.spec.values import SECRET_NAME
from swarmvip.wire import agentspec
from swarmvip.wire.command import KEY_SECRET

from .builders import spec

SWARMKIT = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9_.-]*[a-zA-Z0-9])?$")  # controlapi
STACKS = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,29}\Z")
KEYS = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
PASSWORDS = st.binary(min_size=1, max_size=8)
SALTS = st.from_regex(r"\A[0-9a-f]{8}\Z")
WEB = "web:\n  addresses: [10.0.0.100/24]\n"
AWS = "ip-172-31-45-12{}.eu-central-1.compute.internal"


def swarm_node(node_id: str, hostname: str, last: int) -> Node:
    return Node(node_id, hostname, Role.WORKER, "active", "ready", f"10.0.0.{last}")


def state(stack: str, nodes: tuple[Node, ...]):  # type: ignore[no-untyped-def]
    plan = build_plan(spec(WEB), stack, nodes)
    confs = {n.node_id: render_keepalived(n, stack) for n in plan.nodes}
    specs = {n.node_id: agentspec.to_json(agentspec.AgentSpec(stack, n)) for n in plan.nodes}
    return desired_state(plan, confs, specs)


def observed(desired) -> Observed:  # type: ignore[no-untyped-def]
    return Observed(
        services=tuple(
            ObservedService(f"sid-{s.node_id}", s.name, s.node_id, s.spec_hash, s.top_priority)
            for s in desired.services
        )
    )


# --- services (audit 5) ---------------------------------------------------------------------


def test_long_hostnames_give_valid_service_names() -> None:
    """repro r6_names.py part 1: 64 characters, refused by swarmkit."""
    nodes = tuple(swarm_node(f"{i}p9x2kq0w1abcdefghijklmn", AWS.format(i), 10 + i) for i in (1, 2))
    names = [s.name for s in state("production-edge-dns", nodes).services]
    assert all(len(n) <= 63 and SWARMKIT.fullmatch(n) for n in names), names
    assert names[0] == "production-edge-dns_vip-ip-172-31-45-121-eu-central-1-1p9x2kq0"
    assert len(set(names)) == 2


def test_a_nodes_service_name_does_not_depend_on_the_other_nodes() -> None:
    """repro r6_names.py part 2: web-1 and web.1 share a slug; web-1 leaves: no rename."""
    a = swarm_node("aaaaaaaa1xxxxxxxxxxxxxxxx", "web-1", 11)
    b = swarm_node("bbbbbbbb2xxxxxxxxxxxxxxxx", "web.1", 12)
    c = swarm_node("cccccccc3xxxxxxxxxxxxxxxx", "web-2", 13)
    before = state("edge", (a, b, c))
    after = state("edge", (b, c))
    assert {s.name for s in after.services} < {s.name for s in before.services}
    actions = diff(after, observed(before))
    assert [a.current.name for a in actions if isinstance(a, RemoveService)] == [
        "edge_vip-web-1-aaaaaaaa"
    ]
    assert not any(isinstance(a, CreateService) for a in actions)
    assert all(a.service.name == a.current.name for a in actions if isinstance(a, UpdateService))


def test_a_hostname_change_keeps_the_service_and_its_name() -> None:
    before = state("edge", (swarm_node("aaaaaaaa1xxxxxxxxxxxxxxxx", "old", 11),))
    after = state("edge", (swarm_node("aaaaaaaa1xxxxxxxxxxxxxxxx", "new", 11),))
    actions = diff(after, observed(before))
    updates = [a for a in actions if isinstance(a, UpdateService)]
    assert len(updates) == 1 and updates[0].service.name == "edge_vip-old-aaaaaaaa"
    assert not any(isinstance(a, CreateService | RemoveService) for a in actions)


@settings(max_examples=300, deadline=None)
@given(STACKS, st.text(max_size=120), st.text(min_size=1, max_size=30))
def test_service_names_are_always_valid_and_bounded(stack: str, host: str, node_id: str) -> None:
    name = service_name(stack, host, node_id)
    assert len(name) <= 63 and SWARMKIT.fullmatch(name)
    assert name == service_name(stack, host, node_id)


def test_an_invalid_name_is_a_config_error_naming_the_stack() -> None:
    with pytest.raises(ConfigError, match="stack x_: service name: 'x_' is not a valid"):
        checked_name("x_", "x_", "service")
    with pytest.raises(ConfigError, match="at most 64"):
        checked_name("s", "s" * 65, "secret")


# --- secrets (audit 6, 19) ------------------------------------------------------------------


def secret(stack: str, key: str, data: bytes, naming: SecretNaming) -> str:
    return secret_objects(stack, (SecretSource(key, data),), naming)[key]


def test_long_keys_keep_the_hash_so_a_new_password_gets_a_new_name() -> None:
    """repro r5_secretname.py: the 64-character cut dropped the digest."""
    stack, key = "production-edge-dns-frontends", "vrrp_pass_for_the_edge_group_of_frankfurt_dc"
    naming = SecretNaming("0123abcd")
    old, new = secret(stack, key, b"oldpass1", naming), secret(stack, key, b"newpass2", naming)
    assert old != new
    assert all(len(n) <= 64 and SWARMKIT.fullmatch(n) for n in (old, new))
    cut = secret(stack, "vrrp_pass_for_the_edge_group_of_frankfurt_d", b"p", naming)
    assert SWARMKIT.fullmatch(cut) and re.search(r"-0123abcd[0-9a-f]{8}$", cut)


@settings(max_examples=25, deadline=None)  # 100000 PBKDF2 rounds a name
@given(STACKS, KEYS, PASSWORDS, PASSWORDS, SALTS)
def test_secret_names_are_valid_and_change_with_the_password(
    stack: str, key: str, one: bytes, two: bytes, salt: str
) -> None:
    assert SECRET_NAME.fullmatch(key)
    naming = SecretNaming(salt)
    first = secret(stack, key, one, naming)
    assert len(first) <= 64 and SWARMKIT.fullmatch(first)
    assert first.endswith(salt + first[-8:])
    if one != two:
        assert secret(stack, key, two, naming) != first


def test_the_name_reveals_no_unsalted_hash_of_the_password() -> None:
    """repro r13_hash.py: sha256(password)[:8] in the name let short passwords be recovered."""
    name = secret("web", "vrrp_pass", b"k3y", SecretNaming("0123abcd"))
    assert hashlib.sha256(b"k3y").hexdigest()[:8] not in name
    other = secret("web", "vrrp_pass", b"k3y", SecretNaming("89abcdef"))
    assert other != name and other[-8:] != name[-8:]  # one password, unrelated tags


def test_the_same_password_keeps_its_name_whatever_the_fresh_salt() -> None:
    """Idempotent re-deploys: the observed name's salt is reused when the password matches."""
    first = secret("web", "vrrp_pass", b"s3cret", SecretNaming("0123abcd"))
    seen = frozenset({first, "web_vrrp-other-0123abcd00000000"})
    assert secret("web", "vrrp_pass", b"s3cret", SecretNaming("feedbeef", seen)) == first
    changed = secret("web", "vrrp_pass", b"s3cret2", SecretNaming("feedbeef", seen))
    assert changed != first and "-feedbeef" in changed


def test_a_file_secret_needs_a_salt_and_a_salt_is_8_hex_digits() -> None:
    with pytest.raises(ValueError, match="SecretNaming"):
        secret_objects("web", (SecretSource("k", b"pw"),))
    with pytest.raises(ValueError, match="8 lowercase hex"):
        SecretNaming("not-hex!")
    assert secret_objects("web", (SecretSource("k", None, "made-by-hand"),)) == {
        "k": "made-by-hand"
    }


# --- the adapter never renames ------------------------------------------------------------


class FakeApi:
    """Just enough of docker.APIClient for Cluster._update_service."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def inspect_service(self, service_id: str) -> dict[str, Any]:
        return {"ID": service_id, "Spec": {"Name": "edge_vip-web-1"}, "Version": {"Index": 7}}

    def configs(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"ID": f"id-{n}", "Spec": {"Name": n}} for n in filters["name"]]

    secrets = configs

    def update_service(self, service_id: str, version: int, **spec: Any) -> None:
        self.updates.append({"id": service_id, "version": version, **spec})


class FakeClient:
    def __init__(self) -> None:
        self.api = FakeApi()


def test_the_adapter_updates_a_service_under_its_current_name() -> None:
    desired = state("edge", (swarm_node("aaaaaaaa1xxxxxxxxxxxxxxxx", "web-1", 11),))
    client = FakeClient()
    DockerCluster(client)._update_service("sid-1", desired.services[0])  # type: ignore[arg-type]
    [sent] = client.api.updates
    assert desired.services[0].name == "edge_vip-web-1-aaaaaaaa"
    assert sent["name"] == "edge_vip-web-1" and sent["version"] == 7 and sent["id"] == "sid-1"


# --- through deploy.prepare: re-deploys and drains keep the secret --------------------------


class MemorySwarm:
    """The Cluster reads deploy.prepare makes, over objects an apply put in memory."""

    def __init__(self) -> None:
        self.nodes_ = tuple(
            swarm_node(f"{c * 8}{i}xxxxxxxxxxxxxxxx", f"node{i}", 10 + i)
            for i, c in enumerate("abc", 1)
        )
        self.services: dict[str, ObservedService] = {}
        self.configs: dict[str, bytes] = {}
        self.secrets: set[str] = set()
        self.swarm_secrets: set[str] = set()  # the runtime key: the swarm's, no stack's

    def nodes(self) -> tuple[Node, ...]:
        return self.nodes_

    def vrids(self) -> dict[str, dict[str, int]]:
        return {}

    def secret_names(self) -> set[str]:
        return set(self.secrets) | self.swarm_secrets

    def config_names(self) -> set[str]:
        return set(self.configs)

    def running_plans(self, stack: str) -> dict[str, Any]:
        return {}

    def observe(self, stack: str) -> Observed:
        return Observed(
            services=tuple(self.services.values()),
            configs=tuple(ObservedObject(n, n) for n in self.configs),
            secrets=tuple(ObservedObject(n, n) for n in self.secrets),
        )

    def apply(self, actions: tuple[Any, ...]) -> None:
        for a in actions:
            if isinstance(a, EnsureControl):
                self.swarm_secrets.add(KEY_SECRET)
            elif isinstance(a, CreateSecret):
                self.secrets.add(a.obj.name)
            elif isinstance(a, CreateConfig):
                self.configs[a.obj.name] = a.obj.data
            elif isinstance(a, CreateService | UpdateService):
                s = a.service
                self.services[s.node_id] = ObservedService(
                    f"sid-{s.node_id}", s.name, s.node_id, s.spec_hash, s.top_priority
                )
            elif isinstance(a, RemoveSecret):
                self.secrets.discard(a.current.name)
            elif isinstance(a, RemoveConfig):
                del self.configs[a.current.name]
            elif isinstance(a, RemoveService):
                del self.services[a.current.node_id]


STICKY = """\
secrets:
  vrrp_pass:
    file: ./vrrp_pass.txt
x-swarmvip:
  vips:
    api:
      addresses: [10.0.0.130/24]
      timers: compat
      auth_secret: vrrp_pass
"""


def test_redeploys_and_stored_spec_passes_keep_the_secret(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue point 9 and audit 19 through deploy.prepare: the same file (a new random salt each
    time) changes nothing; a pass from the stored spec (drain, undrain, controller) removes
    nothing; a new password replaces the secret."""
    (tmp_path / "vrrp_pass.txt").write_text("s3cret\n")
    (tmp_path / "sticky.yml").write_text(STICKY)
    swarm = MemorySwarm()
    cluster: Any = swarm
    swarm.apply(prepare(read_stack(str(tmp_path / "sticky.yml")), "sticky", cluster).actions)
    [made] = swarm.secrets
    assert prepare(read_stack(str(tmp_path / "sticky.yml")), "sticky", cluster).actions == ()
    [(name, text)] = [(n, d.decode()) for n, d in swarm.configs.items() if SPEC_MARK in n]
    stored = parse_stack(text, f"swarm config {name}")
    assert prepare(stored, "sticky", cluster).actions == ()
    (tmp_path / "vrrp_pass.txt").write_text("n3wpass\n")
    actions = prepare(read_stack(str(tmp_path / "sticky.yml")), "sticky", cluster).actions
    swarm.apply(actions)
    assert [a.current.name for a in actions if isinstance(a, RemoveSecret)] == [made]
    assert len(swarm.secrets) == 1 and swarm.secrets != {made}

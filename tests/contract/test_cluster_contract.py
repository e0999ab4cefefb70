"""One contract for the Cluster port, run against the in-memory FakeCluster and a real engine.

The real backend is the lab's manager (marked `lab`: it needs the e2e lab). Its objects are
those of a stack named contract-<random> whose services are pinned to node ids that are not in
the swarm: Swarm never schedules their tasks, so no keepalived runs and no VIP moves, and no
spec is stored, so no controller ever plans the stack. Every object made is removed again
(services, configs, secrets, node labels; the lease is released). The whole lab variant takes
a few seconds.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from swarmvip.cluster import Cluster
from swarmvip.cluster.errors import NotFoundError
from swarmvip.cluster.lease import LeaseBusy
from swarmvip.model import Node, Role
from swarmvip.ops.deploy import render_all, secret_naming
from swarmvip.plan.build import build_plan
from swarmvip.plan.desired import DesiredObject, DesiredState, desired_state
from swarmvip.plan.diff import (
    CreateSecret,
    EnsureControl,
    ObservedObject,
    RelabelObject,
    RemoveConfig,
    RemoveControl,
    RemoveSecret,
    RemoveService,
    UpdateService,
    diff,
    teardown,
)
from swarmvip.spec.stackfile import parse_stack
from swarmvip.wire.command import KEY_SECRET
from swarmvip.wire.keys import (
    LEASE_LABELS,
    LEASE_LEADER,
    LEASE_RENEW,
    LEASE_TTL,
    OWNER_LABEL,
    STACK_LABEL,
    STACK_NAMESPACE_LABEL,
    vip_namespace,
)

from .fake import FakeCluster

# Two nodes that are NOT in the swarm: the plan's services are pinned to them (never run).
ABSENT = tuple(
    Node(
        f"{c * 8}contract{i}xxxxxxxxxx", f"absent{i}", Role.WORKER, "active", "ready", f"10.9.9.{i}"
    )
    for i, c in enumerate("yz", 1)
)
SPEC = "x-swarmvip:\n  vips:\n    web: {addresses: [10.9.9.100/24]}\n"


@dataclass
class Backend:
    cluster: Cluster
    stack: str
    node: str  # a node of the swarm, by id: for label round trips


def _fake() -> Iterator[Backend]:
    node = Node("fakenode1xxxxxxxxxxxxxxxx", "node1", Role.MANAGER, "active", "ready", "10.0.0.11")
    yield Backend(FakeCluster([node]), "contract-fake", node.id)


def _lab(request: pytest.FixtureRequest) -> Iterator[Backend]:
    from swarmvip.cluster import DockerCluster

    lab = request.getfixturevalue("lab")
    cluster = DockerCluster.connect(lab.manager_host)
    stack = f"contract-{random.token_hex(3)}"
    node = next(n for n in cluster.nodes() if n.role is Role.MANAGER).id
    try:
        yield Backend(cluster, stack, node)
    finally:  # leave the lab as it was: every object of the stack, and our node label
        for action in teardown(cluster.observe(stack)):
            cluster.apply(action)
        cluster.update_node(node, labels={_label(stack): None})


@pytest.fixture(params=["fake", pytest.param("lab", marks=pytest.mark.lab)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    for made in _fake() if request.param == "fake" else _lab(request):
        # deploy makes the runtime channel first (ops.deploy.materialize): every task mounts its key
        made.cluster.apply(EnsureControl(_desired(made).services[0].image))
        yield made


def _label(stack: str) -> str:
    return f"swarmvip.{stack}"  # a node label no swarmvip code reads


def _desired(backend: Backend, text: str = SPEC) -> DesiredState:
    spec = parse_stack(text, "contract.yml")
    deployed = backend.cluster.vrids()  # other stacks' VRIDs stay theirs, ours stay ours
    used = {v: s for s, groups in deployed.items() if s != backend.stack for v in groups.values()}
    plan = build_plan(spec, backend.stack, ABSENT, used, deployed.get(backend.stack))
    confs, specs = render_all(plan)
    naming = secret_naming(backend.cluster.observe(backend.stack))
    return desired_state(plan, confs, specs, spec.secrets, "", naming)


def _deploy(backend: Backend, desired: DesiredState) -> int:
    actions = diff(desired, backend.cluster.observe(backend.stack))
    for action in actions:
        backend.cluster.apply(action)
    return len(actions)


def test_apply_creates_what_observe_then_returns(backend: Backend) -> None:
    desired = _desired(backend)
    assert _deploy(backend, desired) == len(desired.configs) + len(desired.services)
    seen = backend.cluster.observe(backend.stack)
    assert sorted(s.name for s in seen.services) == sorted(s.name for s in desired.services)
    assert {(s.node_id, s.spec_hash, s.top_priority) for s in seen.services} == {
        (s.node_id, s.spec_hash, s.top_priority) for s in desired.services
    }
    assert sorted(c.name for c in seen.configs) == sorted(c.name for c in desired.configs)
    assert _deploy(backend, desired) == 0  # observed as desired: nothing left to do


def test_config_names_lists_every_config_of_the_swarm(backend: Backend) -> None:
    desired = _desired(backend)
    _deploy(backend, desired)
    assert {c.name for c in desired.configs} <= backend.cluster.config_names()


def test_logging_driver_is_the_engines_default_and_one_that_reads(backend: Backend) -> None:
    driver = backend.cluster.logging_driver()
    assert isinstance(driver, str) and driver  # the lab's engines keep Docker's json-file
    assert driver in ("json-file", "local", "journald")


def test_the_agent_blocks_configs_and_secrets_are_created_and_mounted(
    backend: Backend, tmp_path: Path
) -> None:
    from swarmvip.ops.deploy import stored_spec

    folder = tmp_path
    (folder / "token.txt").write_text("t0ken\n")
    (folder / "app.conf").write_text("x=1\n")
    text = SPEC + (
        "  agent:\n"
        "    environment: {APP_MODE: test}\n"
        "    secrets: [{source: token, target: /etc/app/token, mode: 0440}]\n"
        "    configs: [app]\n"
        "    volumes: ['/run:/host/run:ro']\n"
        "secrets: {token: {file: ./token.txt}}\n"
        "configs: {app: {file: ./app.conf}}\n"
    )
    spec = parse_stack(text, "contract.yml", str(folder))
    plan = build_plan(spec, backend.stack, ABSENT, {}, None)
    confs, specs = render_all(plan)
    stored = stored_spec(spec, backend.stack, backend.cluster.observe(backend.stack))
    desired = desired_state(
        plan, confs, specs, spec.secrets, stored.text, stored.naming, agent=spec.agent
    )
    assert _deploy(backend, desired) == (
        len(desired.configs) + len(desired.secrets) + len(desired.services)
    )
    seen = backend.cluster.observe(backend.stack)
    assert {s.name for s in seen.secrets} == {s.name for s in desired.secrets}
    assert {(s.node_id, s.spec_hash) for s in seen.services} == {
        (s.node_id, s.spec_hash) for s in desired.services
    }
    assert _deploy(backend, desired) == 0


def test_running_plans_and_vrids_are_what_was_applied(backend: Backend) -> None:
    desired = _desired(backend)
    _deploy(backend, desired)
    plans = backend.cluster.running_plans(backend.stack)
    assert set(plans) == {n.id for n in ABSENT}
    [vrid] = {i.vrid for p in plans.values() for i in p.instances}
    assert {i.group for p in plans.values() for i in p.instances} == {"web"}
    assert backend.cluster.vrids()[backend.stack] == {"web": vrid}


def test_an_update_keeps_the_services_name(backend: Backend) -> None:
    _deploy(backend, _desired(backend))
    before = {s.node_id: s for s in backend.cluster.observe(backend.stack).services}
    changed = _desired(backend, SPEC.replace("10.9.9.100/24", "10.9.9.101/24"))
    for action in diff(changed, backend.cluster.observe(backend.stack)):
        if isinstance(action, UpdateService):  # a new name wanted: swarmkit keeps the old one
            action = UpdateService(action.current, _renamed(action.service))
        backend.cluster.apply(action)
    after = {s.node_id: s for s in backend.cluster.observe(backend.stack).services}
    assert {n: s.name for n, s in after.items()} == {n: s.name for n, s in before.items()}
    assert all(after[n].spec_hash != before[n].spec_hash for n in after)
    assert all(
        p.instances[0].addresses[0].with_prefixlen == "10.9.9.101/24"
        for p in backend.cluster.running_plans(backend.stack).values()
    )


def _in_old_namespace(desired: DesiredState) -> DesiredState:
    """As a swarmvip before the VIP layer's own namespace wrote it: in the app's `<stack>`."""

    def old(labels: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        return tuple((k, desired.stack if k == STACK_NAMESPACE_LABEL else v) for k, v in labels)

    return replace(
        desired,
        services=tuple(replace(s, labels=old(s.labels)) for s in desired.services),
        configs=tuple(replace(c, labels=old(c.labels)) for c in desired.configs),
    )


def test_a_stack_in_the_old_namespace_moves_by_its_labels_only(backend: Backend) -> None:
    desired = _desired(backend)
    _deploy(backend, _in_old_namespace(desired))
    seen = backend.cluster.observe(backend.stack)
    assert {o.namespace for o in (*seen.services, *seen.configs)} == {backend.stack}
    actions = diff(desired, seen)
    assert sorted(type(a).__name__ for a in actions) == sorted(
        ["UpdateService"] * len(desired.services) + ["RelabelObject"] * len(desired.configs)
    )
    assert all(a.describe().startswith("relabel ") for a in actions)
    for action in actions:
        backend.cluster.apply(action)
    after = backend.cluster.observe(backend.stack)
    assert {o.namespace for o in (*after.services, *after.configs)} == {
        vip_namespace(backend.stack)
    }
    assert {(s.id, s.name, s.spec_hash) for s in after.services} == {
        (s.id, s.name, s.spec_hash) for s in seen.services
    }
    assert {(c.id, c.name) for c in after.configs} == {(c.id, c.name) for c in seen.configs}
    assert diff(desired, after) == ()


def test_a_gone_object_cannot_be_relabelled(backend: Backend) -> None:
    gone = ObservedObject("nosuchconfig000000000000", "gone", backend.stack)
    with pytest.raises(NotFoundError):
        backend.cluster.apply(RelabelObject("config", gone, ((OWNER_LABEL, "swarmvip"),)))


def _renamed(service: object) -> object:
    import dataclasses

    return dataclasses.replace(service, name=f"{service.name}-x")  # type: ignore[attr-defined]


def test_remove_takes_services_configs_and_secrets_away(backend: Backend) -> None:
    stack = backend.stack
    _deploy(backend, _desired(backend))
    labels = ((STACK_NAMESPACE_LABEL, stack), (OWNER_LABEL, "swarmvip"), (STACK_LABEL, stack))
    secret = DesiredObject(f"{stack}_contract-{random.token_hex(4)}", b"s3cret", labels)
    backend.cluster.apply(CreateSecret(secret))
    assert secret.name in backend.cluster.secret_names()
    seen = backend.cluster.observe(stack)
    assert [s.name for s in seen.secrets] == [secret.name]
    for action in teardown(seen):
        backend.cluster.apply(action)
    gone = backend.cluster.observe(stack)
    assert (gone.services, gone.configs, gone.secrets) == ((), (), ())
    assert secret.name not in backend.cluster.secret_names()
    assert backend.cluster.running_plans(stack) == {} and stack not in backend.cluster.vrids()


def test_a_gone_config_or_secret_is_removed_quietly_a_gone_service_is_not_found(
    backend: Backend,
) -> None:
    _deploy(backend, _desired(backend))
    seen = backend.cluster.observe(backend.stack)
    for service in seen.services:
        backend.cluster.apply(RemoveService(service))
    with pytest.raises(NotFoundError):
        backend.cluster.apply(RemoveService(seen.services[0]))
    for config in (*seen.configs, *seen.configs):
        backend.cluster.apply(RemoveConfig(config))
    backend.cluster.apply(RemoveSecret(ObservedObject("nosuchsecret0000000000000", "gone")))
    gone = backend.cluster.observe(backend.stack)
    assert (gone.services, gone.configs) == ((), ())


def test_wait_gone_returns_once_the_removed_services_tasks_have_stopped(
    backend: Backend,
) -> None:
    _deploy(backend, _desired(backend))
    backend.cluster.wait_running(backend.stack, 120)
    seen = backend.cluster.observe(backend.stack)
    for service in seen.services:
        backend.cluster.apply(RemoveService(service))
    assert backend.cluster.wait_gone(seen.services, 30) == ()  # () : none still ran at 30 s


def test_a_second_holder_is_refused_while_the_first_holds(backend: Backend) -> None:
    first, second = f"{backend.stack}-a", f"{backend.stack}-b"
    with (
        backend.cluster.exclusive(first, ttl=15, wait=30),
        pytest.raises(LeaseBusy, match=first),
        backend.cluster.exclusive(second, wait=0),
    ):
        pass
    # released: the second one takes it (waiting only for another real writer, e.g. a
    # controller running in the lab, never for the first holder)
    with backend.cluster.exclusive(second, ttl=15, wait=30):
        pass


def test_lease_labels_name_the_holder_while_held_and_not_after_release(backend: Backend) -> None:
    me = f"{backend.stack}-reader"
    with backend.cluster.exclusive(me, ttl=15, wait=30):
        held = backend.cluster.lease_labels()
        assert held[LEASE_LEADER] == me and held[LEASE_TTL] == "15"
        assert held[LEASE_RENEW].isdigit()
        assert set(held) <= set(LEASE_LABELS)  # only the lease's labels cross the port
    # released (in the lab a controller may have taken it since: never us)
    assert backend.cluster.lease_labels().get(LEASE_LEADER) != me


def test_node_labels_round_trip(backend: Backend) -> None:
    key = _label(backend.stack)
    backend.cluster.update_node(backend.node, labels={key: "on"})
    assert _node(backend).label(key) == "on"
    backend.cluster.update_node(backend.node, labels={key: None})
    assert _node(backend).label(key) is None


def _node(backend: Backend) -> Node:
    return next(n for n in backend.cluster.nodes() if n.id == backend.node)


def test_wait_running_skips_a_service_whose_node_is_not_in_the_swarm(backend: Backend) -> None:
    desired = _desired(backend)
    _deploy(backend, desired)
    skipped = backend.cluster.wait_running(backend.stack, 10.0)
    assert sorted(skipped) == sorted(
        f"{s.name} skipped: node {s.node_id} is not in the swarm" for s in desired.services
    )


def test_the_runtime_channel_is_made_once_and_removed_with_the_last_stack(
    backend: Backend,
) -> None:
    """EnsureControl (the fixture applied it) leaves the key in place when applied again;
    RemoveControl takes it away and stays quiet when it is already gone."""
    assert KEY_SECRET in backend.cluster.secret_names()
    image = _desired(backend).services[0].image
    backend.cluster.apply(EnsureControl(image))
    assert KEY_SECRET in backend.cluster.secret_names()
    if backend.stack.startswith("contract-fake"):  # on the lab, other stacks may still use it
        backend.cluster.apply(RemoveControl())
        assert KEY_SECRET not in backend.cluster.secret_names()
        backend.cluster.apply(RemoveControl())

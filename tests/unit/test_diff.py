"""Desired state and diff: content-addressed objects, no-op re-deploys, safe ordering."""

from __future__ import annotations

import dataclasses
import textwrap
from dataclasses import replace

from swarmvip.model import SecretSource, StackSpec
from swarmvip.plan.build import build_plan
from swarmvip.plan.desired import (
    SPEC_MARK,
    DesiredState,
    Mount,
    SecretNaming,
    desired_state,
    secret_objects,
    service_name,
)
from swarmvip.plan.diff import (
    CreateConfig,
    CreateSecret,
    CreateService,
    Observed,
    ObservedObject,
    ObservedService,
    RelabelObject,
    RemoveConfig,
    RemoveSecret,
    RemoveService,
    UpdateService,
    diff,
    phases,
    teardown,
)
from swarmvip.render import render_keepalived
from swarmvip.spec.specdoc import spec_document
from swarmvip.spec.stackfile import dump_document, parse_stack, read_stack
from swarmvip.wire import agentspec

from .builders import THREE, node

WEB = "web:\n  addresses: [10.213.0.100/24]\n"
NAMING = SecretNaming("0123abcd")


def desired_for(  # type: ignore[no-untyped-def]
    nodes=THREE, vips: str = WEB, secrets=(), naming: SecretNaming = NAMING
) -> DesiredState:
    declared = "".join(f"  {s.name}: {{external: true}}\n" for s in secrets)
    text = ("secrets:\n" + declared if declared else "") + "x-swarmvip:\n  vips:\n"
    plan = build_plan(parse_stack(text + textwrap.indent(vips, "    "), "stack.yml"), "s", nodes)
    confs = {n.node_id: render_keepalived(n, "s") for n in plan.nodes}
    specs = {n.node_id: agentspec.to_json(agentspec.AgentSpec("s", n)) for n in plan.nodes}
    return desired_state(plan, confs, specs, secrets, naming=naming)


def observed_from(desired: DesiredState) -> Observed:
    """What the swarm holds after a successful deploy of `desired`."""
    return Observed(
        services=tuple(
            ObservedService(f"sid-{s.node_id}", s.name, s.node_id, s.spec_hash, s.top_priority)
            for s in desired.services
        ),
        configs=tuple(ObservedObject(f"cid-{c.name}", c.name) for c in desired.configs),
        secrets=tuple(ObservedObject(f"xid-{c.name}", c.name) for c in desired.secrets),
    )


def test_first_deploy_creates_configs_before_services() -> None:
    actions = diff(desired_for(), Observed())
    kinds = [type(a) for a in actions]
    assert kinds == [CreateConfig] * 6 + [CreateService] * 3


def test_unchanged_redeploy_has_no_action() -> None:
    desired = desired_for()
    assert diff(desired, observed_from(desired)) == ()


def test_services_are_pinned_and_labelled_for_docker_stack() -> None:
    svc = desired_for().services[0]
    labels = dict(svc.labels)
    # the VIP layer's own docker stack: the app's `docker stack deploy --prune s` and
    # `docker stack rm s` never touch it; swarmvip finds it by swarmvip.stack
    assert labels["com.docker.stack.namespace"] == "s-vip" and labels["swarmvip.stack"] == "s"
    assert (
        svc.name == service_name("s", "node1", "id-node1") and labels["swarmvip.node"] == "id-node1"
    )
    assert svc.name.startswith("s_vip-node1-")
    assert [m.target for m in svc.configs] == [
        "/etc/swarmvip/keepalived.conf",
        "/etc/swarmvip/agent.json",
    ]


def _in_namespace(observed: Observed, namespace: str) -> Observed:
    return Observed(
        services=tuple(replace(s, namespace=namespace) for s in observed.services),
        configs=tuple(replace(c, namespace=namespace) for c in observed.configs),
        secrets=tuple(replace(c, namespace=namespace) for c in observed.secrets),
    )


def test_a_stack_in_the_old_namespace_is_relabelled_not_restarted() -> None:
    desired = desired_for()
    actions = diff(desired, _in_namespace(observed_from(desired), "s"))
    services = [a for a in actions if isinstance(a, UpdateService)]
    objects = [a for a in actions if isinstance(a, RelabelObject)]
    assert len(services) == 3 and len(objects) == 6 and len(actions) == 9
    # the hash is unchanged: the adapter writes the labels only, no task restarts
    assert all(a.current.spec_hash == a.service.spec_hash for a in services)
    assert all(dict(a.labels)["com.docker.stack.namespace"] == "s-vip" for a in objects)
    assert services[0].describe().startswith("relabel service s_vip-")
    assert objects[0].describe().endswith("(docker stack s-vip)")
    assert phases(actions, set()) == (actions,)  # one phase: nothing waits on a restart
    # moved: nothing more; an unknown namespace (None) is never compared
    assert diff(desired, _in_namespace(observed_from(desired), "s-vip")) == ()
    assert diff(desired, observed_from(desired)) == ()


def test_label_change_touches_only_affected_nodes() -> None:
    before = desired_for()
    after = desired_for(
        nodes=(THREE[0], THREE[1], node("node3", "10.213.0.13", swarmvip__priority="5"))
    )
    actions = diff(after, observed_from(before))
    updated = [a.service.hostname for a in actions if isinstance(a, UpdateService)]
    assert updated == ["node3"]
    assert any(isinstance(a, RemoveConfig) for a in actions)


def test_new_peer_updates_backups_first_the_top_node_last_then_creates_the_newcomer() -> None:
    before = desired_for(nodes=THREE[:2])
    actions = diff(desired_for(), observed_from(before))
    assert [type(a) for a in actions if not isinstance(a, CreateConfig | RemoveConfig)] == [
        UpdateService,
        UpdateService,
        CreateService,
    ]
    updated = [a.service.hostname for a in actions if isinstance(a, UpdateService)]
    assert updated == ["node2", "node1"]


def test_phases_put_holders_after_backups_and_newcomers_after_holders() -> None:
    before = desired_for(nodes=THREE[:2])
    actions = diff(desired_for(), observed_from(before), holders={"id-node1"})
    steps = phases(actions, {"id-node1"})
    assert len(steps) == 3
    assert all(isinstance(a, CreateConfig) or a.service.hostname == "node2" for a in steps[0])
    assert [a.service.hostname for a in steps[1]] == ["node1"]
    assert isinstance(steps[2][0], CreateService) and steps[2][0].service.hostname == "node3"
    assert all(isinstance(a, RemoveConfig) for a in steps[2][1:])


def test_observed_holder_is_updated_last_whatever_its_priority() -> None:
    before = desired_for(nodes=THREE[:2])
    actions = diff(desired_for(), observed_from(before), holders={"id-node2"})
    updated = [a.service.hostname for a in actions if isinstance(a, UpdateService)]
    assert updated == ["node1", "node2"]


def test_node_that_leaves_loses_service_and_config() -> None:
    before = desired_for()
    actions = diff(desired_for(nodes=THREE[:2]), observed_from(before))
    removed = [a.current.name for a in actions if isinstance(a, RemoveService)]
    assert removed == [before.services[2].name]
    last = actions[-1]
    assert isinstance(last, RemoveConfig)


def test_secret_from_file_is_content_addressed() -> None:
    vips = WEB + "  auth_secret: vrrp\n  timers: compat\n"
    one = desired_for(vips=vips, secrets=(SecretSource("vrrp", b"abc"),))
    two = desired_for(vips=vips, secrets=(SecretSource("vrrp", b"abd"),))
    assert one.secrets[0].name != two.secrets[0].name
    assert isinstance(diff(one, Observed())[0], CreateSecret)
    assert one.services[0].secrets[0].target == "vrrp"


def test_teardown_removes_the_spec_then_services_then_configs() -> None:
    obs = observed_from(desired_for())
    kinds = [type(a) for a in teardown(obs)]
    assert kinds == [RemoveService] * 3 + [RemoveConfig] * 6
    spec = ObservedObject("cid-spec", "s_vip-spec-0123")
    first = teardown(Observed(obs.services, (*obs.configs, spec), ()))[0]
    assert isinstance(first, RemoveConfig) and first.current == spec  # no re-plan meanwhile


def test_image_change_updates_every_service() -> None:
    desired = desired_for()
    changed = dataclasses.replace(
        desired,
        services=tuple(
            dataclasses.replace(s, labels=(*s.labels[:-1], ("swarmvip.hash", "other")))
            for s in desired.services
        ),
    )
    assert len(diff(changed, observed_from(desired))) == 3


STICKY = """\
secrets:
  vrrp_pass:
    file: ./vrrp_pass.txt
x-swarmvip:
  vips:
    api:
      addresses: [10.213.0.130/24]
      preemption: sticky
      timers: compat
      auth_secret: vrrp_pass
"""


def deployed(stack_spec: StackSpec, naming: SecretNaming) -> DesiredState:
    """What deploy.prepare computes, the stored spec document included."""
    plan = build_plan(stack_spec, "s", THREE)
    confs = {n.node_id: render_keepalived(n, "s") for n in plan.nodes}
    specs = {n.node_id: agentspec.to_json(agentspec.AgentSpec("s", n)) for n in plan.nodes}
    names = secret_objects("s", stack_spec.secrets, naming)
    stored = dump_document(spec_document(stack_spec, names))
    return desired_state(plan, confs, specs, stack_spec.secrets, stored, naming)


def mounted(desired: DesiredState) -> set[Mount]:
    return {m for s in desired.services for m in (*s.secrets, *s.configs)}


def test_converging_from_the_stored_spec_never_removes_the_stacks_own_secret(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue point 9: drain/undrain/controller re-plan from the stored spec, where a file secret
    is only an external reference: its secret is still mounted and must stay."""
    (tmp_path / "vrrp_pass.txt").write_text("s3cret\n")
    (tmp_path / "sticky.yml").write_text(STICKY)
    first = deployed(read_stack(str(tmp_path / "sticky.yml")), NAMING)
    observed = observed_from(first)
    assert [s.name for s in observed.secrets] == [first.secrets[0].name]
    stored = next(c for c in first.configs if SPEC_MARK in c.name).data.decode()
    again = parse_stack(stored, "swarm config s_vip-spec")  # what drain and the controller read
    fresh = SecretNaming("feedbeef", frozenset(s.name for s in observed.secrets))
    replanned = deployed(again, fresh)
    assert replanned.secrets == () and replanned.external_secrets == (first.secrets[0].name,)
    actions = diff(replanned, observed)
    used = {m.source for m in mounted(replanned)}
    removed = [a.current.name for a in actions if isinstance(a, RemoveSecret | RemoveConfig)]
    assert not set(removed) & used
    assert actions == ()


def test_external_secrets_of_the_stack_are_never_removed() -> None:
    vips = WEB + "  auth_secret: vrrp\n  timers: compat\n"
    desired = desired_for(vips=vips, secrets=(SecretSource("vrrp", None, "shared-pass"),))
    labelled = ObservedObject("xid-shared", "shared-pass")  # labelled like ours by someone
    observed = dataclasses.replace(observed_from(desired), secrets=(labelled,))
    assert diff(desired, observed) == ()
    unmounted = dataclasses.replace(desired, services=())
    assert diff(unmounted, dataclasses.replace(observed, services=())) == ()


def test_a_new_password_replaces_the_secret_and_removes_the_old_one() -> None:
    vips = WEB + "  auth_secret: vrrp\n  timers: compat\n"
    old = desired_for(vips=vips, secrets=(SecretSource("vrrp", b"abc"),))
    observed = observed_from(old)
    naming = SecretNaming("feedbeef", frozenset(s.name for s in observed.secrets))
    new = desired_for(vips=vips, secrets=(SecretSource("vrrp", b"abd"),), naming=naming)
    actions = diff(new, observed)
    assert [type(a) for a in actions] == [CreateSecret] + [UpdateService] * 3 + [RemoveSecret]
    last = actions[-1]
    assert isinstance(last, RemoveSecret) and last.current.name == old.secrets[0].name


def test_an_update_keeps_the_observed_service_name() -> None:
    """Audit 5: swarmkit refuses renames; services deployed with older names keep them."""
    before = desired_for()
    old_names = tuple(
        dataclasses.replace(s, name=f"s_vip-{s.node_id[3:]}")
        for s in observed_from(before).services
    )
    observed = dataclasses.replace(observed_from(before), services=old_names)
    after = desired_for(nodes=THREE[:2])
    updates = [a for a in diff(after, observed) if isinstance(a, UpdateService)]
    assert updates and all(a.service.name == a.current.name for a in updates)
    assert {a.service.name for a in updates} == {"s_vip-node1", "s_vip-node2"}
    assert all(a.describe().startswith(f"update service {a.current.name} ") for a in updates)


def test_rendered_compose_deploys_as_the_vip_layers_own_stack() -> None:
    from swarmvip.present.compose import compose_document

    desired = desired_for()
    doc = compose_document(desired)
    # `docker stack deploy -c s.yml s-vip` names them <namespace>_<key>: as long as ours
    assert sorted(f"s-vip_{key}" for key in doc["services"]) == sorted(
        s.name.replace("s_vip-", "s-vip_") for s in desired.services
    )
    assert {
        v["deploy"]["labels"]["com.docker.stack.namespace"] for v in doc["services"].values()
    } == {"s-vip"}


def shaped_observed(desired: DesiredState) -> Observed:
    """What the swarm holds after a deploy of `desired` by this version: shape labels, mounts."""
    return Observed(
        services=tuple(
            ObservedService(
                f"sid-{s.node_id}",
                s.name,
                s.node_id,
                s.spec_hash,
                s.top_priority,
                shape_hash=s.shape_hash,
                mounts=tuple(m.source for m in (*s.configs, *s.secrets)),
            )
            for s in desired.services
        ),
        configs=tuple(ObservedObject(f"cid-{c.name}", c.name) for c in desired.configs),
    )


def test_a_priority_only_change_keeps_the_shape_and_is_left_to_the_runtime_channel() -> None:
    before = desired_for()
    drained = tuple(
        dataclasses.replace(n, labels=(("swarmvip.drain", "true"),)) if i == 0 else n
        for i, n in enumerate(THREE)
    )
    after = desired_for(nodes=drained)
    old = {s.node_id: s for s in before.services}
    changed = [s for s in after.services if s.spec_hash != old[s.node_id].spec_hash]
    assert changed, "draining node1 changes its priority"
    assert all(s.shape_hash == old[s.node_id].shape_hash for s in after.services)
    observed = shaped_observed(before)
    updates = [a for a in diff(after, observed) if isinstance(a, UpdateService)]
    assert {a.service.node_id for a in updates} == {s.node_id for s in changed}
    runtime = diff(after, observed, runtime=True)
    assert not [a for a in runtime if isinstance(a, UpdateService)]
    # a service written before shape labels restarts, as before
    unlabelled = dataclasses.replace(
        observed, services=tuple(dataclasses.replace(s, shape_hash="") for s in observed.services)
    )
    assert [a for a in diff(after, unlabelled, runtime=True) if isinstance(a, UpdateService)]


def test_another_vip_changes_the_shape() -> None:
    before = desired_for()
    after = desired_for(vips=WEB.replace("10.213.0.100", "10.213.0.101"))
    assert {s.shape_hash for s in before.services}.isdisjoint(s.shape_hash for s in after.services)


def test_a_service_left_with_its_priorities_keeps_its_configs() -> None:
    """The runtime channel leaves a priority-only service as it is: the configs it mounts stay
    (removing them fails: Docker refuses to remove a config in use)."""
    before = desired_for()
    drained = tuple(
        dataclasses.replace(n, labels=(("swarmvip.drain", "true"),)) if i == 0 else n
        for i, n in enumerate(THREE)
    )
    after = desired_for(nodes=drained)
    observed = shaped_observed(before)
    runtime = diff(after, observed, runtime=True)
    assert runtime == (), runtime  # nothing removed, nothing made that no service would mount
    restart = diff(after, observed)
    assert [a for a in restart if isinstance(a, RemoveConfig)]  # once updated, the old go

"""Desired state and diff: content-addressed objects, no-op re-deploys, safe ordering."""

from __future__ import annotations

import dataclasses

from swarmvip import agentspec
from swarmvip.model import SecretSource
from swarmvip.plan.build import build_plan
from swarmvip.plan.desired import DesiredState, desired_state
from swarmvip.plan.diff import (
    CreateConfig,
    CreateSecret,
    CreateService,
    Observed,
    ObservedObject,
    ObservedService,
    RemoveConfig,
    RemoveService,
    UpdateService,
    diff,
    phases,
    teardown,
)
from swarmvip.render import render_keepalived

from .builders import THREE, node, spec

WEB = "web:\n  addresses: [10.213.0.100/24]\n"


def desired_for(nodes=THREE, vips: str = WEB, secrets=()) -> DesiredState:  # type: ignore[no-untyped-def]
    plan = build_plan(spec(vips), "s", nodes)
    confs = {n.node_id: render_keepalived(n, "s") for n in plan.nodes}
    specs = {n.node_id: agentspec.to_json(agentspec.AgentSpec("s", n)) for n in plan.nodes}
    return desired_state(plan, confs, specs, secrets)


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
    assert labels["com.docker.stack.namespace"] == "s"
    assert svc.name == "s_vip-node1" and labels["swarmvip.node"] == "id-node1"
    assert [m.target for m in svc.configs] == [
        "/etc/swarmvip/keepalived.conf",
        "/etc/swarmvip/agent.json",
    ]


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
    assert removed == ["s_vip-node3"]
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

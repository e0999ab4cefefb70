"""End to end, as an operator would on a real swarm: a stack file with compose conventions
(${VAR} from the environment and an --env-file, merge keys, two -c files, a capitalised
node.role) deploys and its VIP is held; the docker CLI's own `docker stack deploy --prune` and
`docker stack rm` of the app stack leave the VIP layer (the docker stack `<stack>-vip`)
serving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from swarmvip_lab import Lab

from .vip import ROOT, docker, holders, owned_objects, planned_order, swarmvip, wait_for

pytestmark = pytest.mark.lab
STACKS = ROOT / "tests" / "e2e" / "stacks"


def _swarmvip_env(lab: Lab, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swarmvip", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_HOST": lab.manager_host, **env},
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def test_a_stack_with_variables_env_file_and_two_files_deploys(lab: Lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env_file = tmp_path / "vip.env"
    env_file.write_text(
        "# the VRID comes from the env file, the VIP from the environment\nINTERP_VRID=77\n"
    )
    files = ["-c", str(STACKS / "interp-web.yml"), "-c", str(STACKS / "interp-override.yml")]
    env = {"INTERP_VIP": "10.213.0.140/24"}
    missing = _swarmvip_env(lab, {}, "validate", *files, "--env-file", str(env_file))
    assert missing.returncode == 2 and "INTERP_VIP" in missing.stderr
    plan = _swarmvip_env(
        lab, env, "plan", "--json", "--stack", "interp", *files, "--env-file", str(env_file)
    )
    assert plan.returncode == 0, plan.stderr
    doc = json.loads(plan.stdout)
    assert [n["hostname"] for n in doc["nodes"]] == ["node1"]  # node.role == Manager
    inst = doc["nodes"][0]["instances"][0]
    assert inst["vrid"] == 77 and inst["advert_int"] == 0.25  # the second file's timers
    try:
        done = _swarmvip_env(
            lab,
            env,
            "deploy",
            "--vip-only",
            "--stack",
            "interp",
            *files,
            "--env-file",
            str(env_file),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        wait_for(
            "node1 holds the interpolated VIP",
            lambda: holders(lab, "10.213.0.140") == ["node1"],
            60,
        )
    finally:
        swarmvip(lab, "rm", "interp")
    wait_for("interp removed", lambda: owned_objects(lab, "interp") == [], 60)


def _layer(lab: Lab, stack: str) -> list[str]:
    """The keepalived services `docker stack services <stack>-vip` lists."""
    names = docker(lab, "stack", "services", f"{stack}-vip", "--format", "{{.Name}}", check=False)
    return sorted(names.split())


def test_the_apps_own_prune_and_rm_leave_the_vip_layer_serving(lab: Lab) -> None:
    stack, vip, file = "lab-web", "10.213.0.100", str(ROOT / "stacks" / "lab-web.yml")
    added = [
        n.hostname
        for n in lab.nodes
        if docker(
            lab, "node", "inspect", n.hostname, "--format", '{{index .Spec.Labels "web"}}'
        ).strip()
        != "true"
    ]
    for node in added:
        docker(lab, "node", "update", "--label-add", "web=true", node)
    try:
        done = swarmvip(lab, "deploy", "--resolve-image", "never", file)
        assert done.returncode == 0, done.stdout + done.stderr
        # settled: every node's web answers its check, so the planned top node holds
        top = planned_order(lab, file)["web"][0]
        holder = wait_for(f"{top} holds", lambda: (h := holders(lab, vip)) == [top] and h, 60)
        layer = _layer(lab, stack)
        assert len(layer) == 3 and all(name.startswith(f"{stack}_vip-") for name in layer)
        # CI re-deploys the same file with the real CLI and --prune: the app's namespace
        # holds only the app's services, so nothing of the VIP layer is pruned
        pruned = docker(
            lab, "stack", "deploy", "--prune", "--resolve-image", "never", "-c", file, stack
        )
        assert "Removing service" not in pruned, pruned
        assert _layer(lab, stack) == layer
        time.sleep(2)
        assert holders(lab, vip) == holder  # nothing restarted: the same node still holds
        # `docker stack rm` of the app removes the app only (its web service; the VIP layer,
        # its configs and the stored spec stay): `swarmvip rm` is what removes both
        docker(lab, "stack", "rm", stack)
        wait_for(
            "the app's services gone",
            lambda: not docker(lab, "stack", "services", stack, "-q", check=False).split(),
            60,
        )
        assert _layer(lab, stack) == layer
        assert len(owned_objects(lab, stack)) > len(layer)  # its configs are still there
        wait_for("the VIP still held", lambda: len(holders(lab, vip)) == 1, 30)
    finally:
        swarmvip(lab, "rm", stack)
        for node in added:
            docker(lab, "node", "update", "--label-rm", "web", node, check=False)
    wait_for(f"{stack} removed", lambda: owned_objects(lab, stack) == [], 60)
    assert _layer(lab, stack) == []

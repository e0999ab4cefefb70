"""End to end, as an operator would on a real swarm: a stack file with compose conventions
(${VAR} from the environment and an --env-file, merge keys, two -c files, a capitalised
node.role) deploys and its VIP is held."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from swarmvip_lab import Lab

from .vip import ROOT, holders, owned_objects, swarmvip, wait_for

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

"""End to end: `x-swarmvip.agent` gives a notify hook a variable and a secret it can really use.

One VIP group on the lab's three nodes, its tasks given an environment variable and a secret
made by deploy from a file (at an absolute target). The master hook writes both into a file
inside its task; the test reads that file from the holder's task, checks that the stored spec
holds no secret value, and removes the stack.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from swarmvip_lab import Lab

from .vip import docker, holders, owned_objects, swarmvip, vip_service, wait_for

pytestmark = pytest.mark.lab
STACK = "agent-block"
VIP = "10.213.0.150"
TOKEN = "tok-3f9a1c-not-a-vrrp-password"
GREETING = "hello from x-swarmvip.agent"
OUT = "/run/swarmvip/agent-block.out"

STACK_FILE = f"""\
version: "3.8"

secrets:
  app_token:
    file: ./app_token.txt

x-swarmvip:
  agent:
    environment:
      APP_GREETING: "{GREETING}"
    secrets:
      - source: app_token
        target: /etc/app/token
        mode: 0400
  vips:
    web:
      addresses: [{VIP}/24]
      notify:
        master:
          - /bin/sh
          - -c
          - printf '%s\\n%s\\n' "$$APP_GREETING" "$$(cat /etc/app/token)" > {OUT}
"""


@pytest.fixture
def deployed(lab: Lab, tmp_path: Path) -> Iterator[str]:
    (tmp_path / "app_token.txt").write_text(TOKEN + "\n")
    file = tmp_path / f"{STACK}.yml"
    file.write_text(STACK_FILE)
    result = swarmvip(lab, "deploy", "--vip-only", str(file))
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield result.stdout
    finally:
        removed = swarmvip(lab, "rm", STACK)
        assert removed.returncode == 0, removed.stdout + removed.stderr
        wait_for("every object of the stack gone", lambda: not owned_objects(lab, STACK), 60)


def _in_task(lab: Lab, node: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """argv in the stack's keepalived task on `node` (docker exec on that node's engine)."""
    host = lab.node(node).docker_host
    label = f"label=com.docker.swarm.service.name={vip_service(lab, STACK, node)}"
    task = subprocess.run(
        ["docker", "-H", host, "ps", "-q", "--filter", label],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert task, f"no running task of {STACK} on {node}"
    return subprocess.run(
        ["docker", "-H", host, "exec", task[0], *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_a_master_hook_sees_the_agent_blocks_variable_and_secret(lab: Lab, deployed: str) -> None:
    holder = str(
        wait_for("one holder", lambda: (h := holders(lab, VIP)) and len(h) == 1 and h[0], 60)
    )
    written = wait_for(
        "the master hook's file in the holder's task",
        lambda: (out := _in_task(lab, holder, "cat", OUT)).returncode == 0 and out.stdout,
        30,
    )
    assert str(written).splitlines() == [GREETING, TOKEN]
    mode = _in_task(lab, holder, "stat", "-c", "%a", "/etc/app/token").stdout.strip()
    assert mode == "400"

    # deploy created the secret as it creates auth secrets: labelled, salted name, no value
    secrets = docker(
        lab, "secret", "ls", "--filter", f"label=swarmvip.stack={STACK}", "--format", "{{.Name}}"
    ).split()
    assert len(secrets) == 1 and secrets[0].startswith(f"{STACK}_vrrp-app_token-")
    for config in docker(
        lab, "config", "ls", "--filter", f"label=swarmvip.stack={STACK}", "-q"
    ).split():
        data = docker(lab, "config", "inspect", "--format", "{{json .Spec.Data}}", config)
        assert TOKEN not in base64.b64decode(json.loads(data)).decode(errors="replace")

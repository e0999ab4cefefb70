"""End to end over ssh://, as from a laptop: `DOCKER_HOST=ssh://root@<manager>` with the lab's
key (`swarmvip lab env --ssh`, see swarmvip_lab.ssh). deploy (and the `docker stack deploy` it
runs), status, drain, undrain, the TUI and rm all go through ssh; so does the docker CLI. And
an unknown docker context is a clear error (exit 3), never the local socket."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from swarmvip_lab import Lab

from .test_tui_lab import Tmux
from .vip import ROOT, docker, holders, planned_order, relay_senders, swarmvip, wait_for

VIP = "10.213.0.101"
STACK = "ssh-web"
GROUP = f"{STACK}/web"
FILE = str(ROOT / "tests" / "e2e" / "stacks" / "ctl-web.yml")  # the VIP on vip=true nodes
CONNECTION_ENV = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS", "DOCKER_TLS_VERIFY")


def over_ssh(lab: Lab) -> dict[str, str]:
    """This process's environment with the lab's ssh settings (what `lab env --ssh` exports)."""
    env = {k: v for k, v in os.environ.items() if k not in CONNECTION_ENV}
    return env | lab.ssh_environment()


def ssh_swarmvip(lab: Lab, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swarmvip", *argv],
        capture_output=True,
        text=True,
        env=over_ssh(lab),
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def ssh_status(lab: Lab) -> dict:  # type: ignore[type-arg]
    result = ssh_swarmvip(lab, "status", "--json", "--stack", STACK)
    assert result.returncode in (0, 1), result.stderr  # 1: a critical alarm while tasks move
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def status_holders(lab: Lab) -> list[str]:
    vips = ssh_status(lab)["vips"]
    return list(vips[0]["holders"]) if vips else []


@pytest.fixture
def ssh_stack(lab: Lab) -> Iterator[None]:
    """ctl-web as stack ssh-web, the VIP on node1 and node2, deployed over ssh."""
    for node, on in (("node1", True), ("node2", True), ("node3", False)):
        if on:
            docker(lab, "node", "update", "--label-add", "vip=true", node)
        else:
            docker(lab, "node", "update", "--label-rm", "vip", node, check=False)
    try:
        # the whole file: the web service goes through `docker stack deploy` over ssh too
        result = ssh_swarmvip(
            lab, "deploy", "--resolve-image", "never", "--stack", STACK, FILE, timeout=150
        )
        assert result.returncode == 0, result.stdout + result.stderr
        yield
    finally:
        for node in ("node1", "node2"):  # the test drains the holder, the planner's choice
            swarmvip(lab, "undrain", node)
        swarmvip(lab, "rm", STACK)
        for node in ("node1", "node2"):
            docker(lab, "node", "update", "--label-rm", "vip", node, check=False)


@pytest.mark.lab
def test_lab_env_ssh_points_the_docker_cli_at_the_manager(lab: Lab) -> None:
    script = f'eval "$({shlex.quote(sys.executable)} -m swarmvip lab env --ssh)" && env && ' + (
        "docker node ls --format '{{.Hostname}} {{.ManagerStatus}}'"
    )
    env = {k: v for k, v in os.environ.items() if k not in CONNECTION_ENV}
    done = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert f"DOCKER_HOST=ssh://root@{lab.manager.ip}" in done.stdout
    assert "node1 Leader" in done.stdout and "node3 " in done.stdout


@pytest.mark.lab
def test_deploy_status_drain_and_the_tui_over_ssh(lab: Lab, ssh_stack: None) -> None:
    app = docker(lab, "service", "ls", "--filter", f"name={STACK}_web", "--format", "{{.Name}}")
    assert app.split() == [f"{STACK}_web"]  # `docker stack deploy` reached the swarm over ssh
    top, other = planned_order(lab, "--stack", STACK, FILE)["web"]  # node1 and node2
    wait_for(f"{top} holds", lambda: holders(lab, VIP) == [top], timeout=30)
    wait_for(f"status over ssh sees {top}", lambda: status_holders(lab) == [top], timeout=30)

    since = time.time()
    drained = ssh_swarmvip(lab, "drain", top, "--timeout", "60")
    assert drained.returncode == 0, drained.stdout + drained.stderr
    assert other in drained.stdout
    assert holders(lab, VIP) == [other]
    # the move's sender was started ahead, over ssh:// too, and no other was needed
    senders = relay_senders(lab, since)
    assert len(senders) == 1 and senders[0].endswith(" send --stdin-plan"), senders

    tmux = Tmux()
    env = lab.ssh_environment()
    command = (
        f"DOCKER_HOST={env['DOCKER_HOST']} PATH={shlex.quote(env['PATH'])} TZ=UTC "
        f"{sys.executable} -m swarmvip tui --stack {STACK}; sleep 30"
    )
    try:
        tmux("new-session", "-d", "-x", "140", "-y", "40", "-s", "tui", command)
        wait_for(f"the TUI over ssh shows {other}", lambda: tmux.holder(GROUP) == other, 30)
        assert f"ssh://root@{lab.manager.ip}" in tmux.screen()  # the title names the engine

        undrained = ssh_swarmvip(lab, "undrain", top, "--timeout", "60")
        assert undrained.returncode == 0, undrained.stdout + undrained.stderr
        wait_for(f"{top} holds again", lambda: holders(lab, VIP) == [top], timeout=30)
        wait_for(f"the TUI follows to {top}", lambda: tmux.holder(GROUP) == top, 30)
    finally:
        subprocess.run(
            ["tmux", "-L", tmux.socket, "kill-server"], capture_output=True, check=False, timeout=10
        )

    removed = ssh_swarmvip(lab, "rm", STACK)  # `docker stack rm` over ssh as well
    assert removed.returncode == 0, removed.stderr
    wait_for(
        "the app service removed over ssh",
        lambda: not docker(lab, "service", "ls", "--filter", f"name={STACK}_web", "-q").strip(),
        timeout=30,
    )


@pytest.mark.parametrize(
    ("argv", "extra", "source"),
    [
        (["--context", "nope", "status"], {}, "--context"),
        (["status"], {"DOCKER_CONTEXT": "nope"}, "DOCKER_CONTEXT"),
    ],
)
def test_an_unknown_context_exits_3_with_one_line(
    tmp_path: Path, argv: list[str], extra: dict[str, str], source: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in (*CONNECTION_ENV, "DOCKER_CONFIG")}
    env |= {"HOME": str(tmp_path), **extra}
    done = subprocess.run(
        [sys.executable, "-m", "swarmvip", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"swarmvip: error: docker context 'nope' (from {source})")
    assert "docker context ls" in done.stderr

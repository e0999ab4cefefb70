"""Install and build exactly as the README says, from a clean checkout, and use the result.

- The task image: the README's offline `docker build` command, run verbatim (extracted from the
  README), is what the lab built and what every node runs.
- The CLI: a wheel built by `python -m build`, installed with `pipx install` (the Quick start's
  first line), reaches the lab manager over ssh:// (docker[ssh] comes with the wheel) and reads
  the status of a deployed stack.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from swarmvip_lab import Lab
from swarmvip_lab.agent_image import run_build_command

import swarmvip

from .vip import ROOT

README = (ROOT / "README.md").read_text()


def readme_block(marker: str) -> str:
    """The one ```sh block of the README that contains `marker`, as shell text."""
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", README, re.S) if marker in b]
    assert len(blocks) == 1, f"{len(blocks)} README blocks contain {marker!r}"
    return blocks[0]


def image_id(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_every_node_runs_the_image_the_readme_command_builds(lab: Lab) -> None:
    command = readme_block("--build-arg BASE=")
    run_build_command(lab.host, ROOT, command)  # the layer cache: same inputs, same image
    built = lab.host.out("image", "inspect", "--format", "{{.Id}}", swarmvip.DEFAULT_IMAGE)
    for node in lab.nodes:
        there = lab.exec(
            node.hostname,
            "docker",
            "image",
            "inspect",
            "--format",
            "{{.Id}}",
            swarmvip.DEFAULT_IMAGE,
            check=False,
        )
        assert image_id(there) == built.strip(), node.hostname


@pytest.fixture(scope="module")
def pipx_swarmvip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build --wheel`, then `pipx install` of that wheel into a private PIPX_HOME."""
    work = tmp_path_factory.mktemp("install")
    dist = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    wheels = list(dist.glob("swarmvip-*-py3-none-any.whl"))
    assert len(wheels) == 1, wheels
    env = os.environ | {"PIPX_HOME": str(work / "pipx"), "PIPX_BIN_DIR": str(work / "bin")}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "pipx"), "install", str(wheels[0])],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return work / "bin" / "swarmvip"


def test_the_pipx_installed_wheel_is_not_the_checkout(pipx_swarmvip: Path) -> None:
    where = subprocess.run(
        [
            str(pipx_swarmvip.resolve().parent / "python"),
            "-c",
            "import swarmvip, swarmvip_tui; print(swarmvip.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=pipx_swarmvip.parent,  # not the checkout: '' on sys.path would import it
    ).stdout
    assert str(ROOT) not in where and "site-packages" in where
    no_lab = subprocess.run(
        [str(pipx_swarmvip), "lab", "status"], capture_output=True, text=True, check=False
    )
    assert no_lab.returncode != 0  # the lab is a checkout tool: it is not in the wheel


def test_the_pipx_installed_cli_reads_status_over_ssh(lab: Lab, pipx_swarmvip: Path) -> None:
    version = subprocess.run(
        [str(pipx_swarmvip), "--version"], capture_output=True, text=True, check=True
    )
    assert swarmvip.__version__ in version.stdout
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env |= lab.ssh_environment()
    assert env["DOCKER_HOST"].startswith("ssh://")
    status = subprocess.run(
        [str(pipx_swarmvip), "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert status.returncode in (0, 1), status.stderr
    assert isinstance(json.loads(status.stdout)["vips"], list)

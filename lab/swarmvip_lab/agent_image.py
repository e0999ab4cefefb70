"""Build the task image from this checkout with the README's own command, nothing else.

`BUILD_COMMAND` is the shell text the README shows under "The image" for a machine without a
registry (tests/contract keep the two identical); the lab runs it verbatim with bash, pointed
at the lab's host engine. The Dockerfile's layer cache makes an unchanged checkout a no-op, so
the image is rebuilt on every `lab images`/`lab up` and only changes when an input changed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

import swarmvip
from swarmvip_lab.engine import Engine, LabError
from swarmvip_lab.recipes import BASE_IMAGE

log = logging.getLogger("swarmvip_lab")

BUILD_TIMEOUT = 900.0
# Extra CAs pip must trust where TLS is inspected (empty when there are none: a normal machine).
CA_FILES = "/usr/local/share/ca-certificates/*.crt"
BUILD_COMMAND = (
    f"docker build --build-arg BASE={BASE_IMAGE} \\\n"
    f'  --build-arg EXTRA_CA_CERTS="$(cat {CA_FILES} 2>/dev/null)" \\\n'
    f"  -t {swarmvip.DEFAULT_IMAGE} ."
)


def find_source_root(start: Path | None = None) -> Path:
    """The checkout holding ./Dockerfile: the package's parent when editable, else cwd."""
    candidates = [Path(swarmvip.__file__).resolve().parent.parent, Path.cwd()]
    if start is not None:
        candidates.insert(0, start)
    for root in candidates:
        if (root / "Dockerfile").is_file() and (root / "pyproject.toml").is_file():
            return root
    raise LabError("no Dockerfile found: run from the swarmvip checkout to build the agent image")


def run_build_command(engine: Engine, root: Path, command: str = BUILD_COMMAND) -> None:
    """Run `command` (README shell text) with bash in `root`, its `docker` aimed at `engine`."""
    env = dict(os.environ)
    env.pop("DOCKER_CONTEXT", None)
    if engine.host:
        env["DOCKER_HOST"] = engine.host
    else:
        env.pop("DOCKER_HOST", None)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise LabError(f"image build failed ({command.splitlines()[0]} …):\n{tail}")


def ensure_agent_image(
    engine: Engine, root: Path | None = None, image: str = swarmvip.DEFAULT_IMAGE
) -> bool:
    """Build the task image with the README's command; True when the image changed."""
    root = root or find_source_root()
    if image != swarmvip.DEFAULT_IMAGE:
        raise LabError(f"the lab builds only {swarmvip.DEFAULT_IMAGE} (the README's command)")
    before = _image_id(engine, image)
    started = time.monotonic()
    run_build_command(engine, root)
    after = _image_id(engine, image)
    log.info("image %s: %s in %.1fs", image, after[:19], time.monotonic() - started)
    return after != before


def _image_id(engine: Engine, image: str) -> str:
    if not engine.image_exists(image):
        return ""
    return engine.out("image", "inspect", "--format", "{{.Id}}", image).strip()

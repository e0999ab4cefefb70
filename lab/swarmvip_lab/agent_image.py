"""Build the agent image from this checkout: wheels of swarmvip + pyroute2, then ./Dockerfile.

The image carries a `swarmvip.source` label with a hash of the inputs, so an unchanged
checkout is not rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import swarmvip
from swarmvip_lab.engine import Engine, LabError
from swarmvip_lab.recipes import BASE_IMAGE

log = logging.getLogger("swarmvip_lab")

SOURCE_LABEL = "swarmvip.source"
SOURCE_DIRS = ("swarmvip", "tui")
SOURCE_FILES = ("Dockerfile", "pyproject.toml", ".dockerignore", "README.md")
WHEELS = Path("build/wheels")
# The agent needs only pyroute2; the controller (same image, other entrypoint) the rest.
IMAGE_LIBRARIES = (
    "pyroute2",
    "docker",
    "requests",
    "urllib3",
    "idna",
    "certifi",
    "charset-normalizer",
    "jinja2",
    "markupsafe",
    "pyyaml",
)
BUILD_TIMEOUT = 600.0


def find_source_root(start: Path | None = None) -> Path:
    """The checkout holding ./Dockerfile: the package's parent when editable, else cwd."""
    candidates = [Path(swarmvip.__file__).resolve().parent.parent, Path.cwd()]
    if start is not None:
        candidates.insert(0, start)
    for root in candidates:
        if (root / "Dockerfile").is_file() and (root / "pyproject.toml").is_file():
            return root
    raise LabError("no Dockerfile found: run from the swarmvip checkout to build the agent image")


def source_hash(root: Path) -> str:
    """A hash of every input of the agent image (sources, build files, pyroute2 version)."""
    pins = "".join(f"{name}=={version(name)}\n" for name in IMAGE_LIBRARIES)
    digest = hashlib.sha256(pins.encode())
    files = [root / name for name in SOURCE_FILES if (root / name).is_file()]
    for sub in SOURCE_DIRS:
        files += [p for p in (root / sub).rglob("*") if _is_source(p)]
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _is_source(path: Path) -> bool:
    return path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"


def build_wheels(root: Path) -> None:
    """`pip wheel --no-deps` of this checkout, pyroute2 (agent) and the controller's libraries
    (docker SDK, Jinja2, PyYAML and theirs), pinned to the installed versions; old wheels go."""
    out = root / WHEELS
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.whl"):
        old.unlink()
    argv = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        str(WHEELS),
        ".",
        *(f"{name}=={version(name)}" for name in IMAGE_LIBRARIES),
    ]
    done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise LabError(f"pip wheel failed:\n{done.stderr.strip()[-2000:]}")


def ensure_agent_image(
    engine: Engine, root: Path | None = None, image: str = swarmvip.DEFAULT_IMAGE
) -> bool:
    """Build the agent image unless it matches this checkout; True when it was built."""
    root = root or find_source_root()
    wanted = source_hash(root)
    if engine.image_label(image, SOURCE_LABEL) == wanted:
        log.info("image %s is up to date (%s)", image, wanted)
        return False
    started = time.monotonic()
    build_wheels(root)
    engine.run(
        "build",
        "-q",
        "--build-arg",
        f"BASE={BASE_IMAGE}",
        "--label",
        f"{SOURCE_LABEL}={wanted}",
        "-t",
        image,
        ".",
        cwd=root,
        timeout=BUILD_TIMEOUT,
    )
    log.info("built %s in %.1fs", image, time.monotonic() - started)
    return True

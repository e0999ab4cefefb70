"""Build the lab's images without a registry: debootstrap + `docker import`, then the agent.

- `swarmvip/base:bookworm`: keepalived, python3, python3-venv, iproute2; the BASE of ./Dockerfile.
- `swarmvip/lab-node:bookworm`: docker.io and tools; a docker-in-docker lab node.
- the task image (swarmvip.DEFAULT_IMAGE): ./Dockerfile built on the base with the README's
  command (agent_image.py).

The rootfs images are skipped when they carry their current recipe's label; the task image
is rebuilt each time, which Docker's layer cache makes a no-op when nothing changed.
Downloaded .debs are kept in `$SWARMVIP_CACHE/debs` (default /var/cache/swarmvip).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

from swarmvip_lab.engine import Engine, LabError
from swarmvip_lab.mirror import find_mirror
from swarmvip_lab.recipes import PRUNE, RECIPE_LABEL, RECIPES, SUITE, Recipe

log = logging.getLogger("swarmvip_lab")

DEBOOTSTRAP_TIMEOUT = 900.0
IMPORT_TIMEOUT = 600.0


def cache_dir() -> Path:
    return Path(os.environ.get("SWARMVIP_CACHE", "/var/cache/swarmvip"))


def is_current(engine: Engine, recipe: Recipe) -> bool:
    return engine.image_label(recipe.image, RECIPE_LABEL) == recipe.digest()


def ensure_recipe(engine: Engine, recipe: Recipe, cache: Path | None = None) -> bool:
    """Build `recipe` unless its current version exists; True when it was built."""
    if is_current(engine, recipe):
        log.info("image %s is up to date (%s)", recipe.image, recipe.digest())
        return False
    cache = cache or cache_dir()
    rootfs = cache / "rootfs" / f"{recipe.image.replace('/', '_').replace(':', '_')}"
    started = time.monotonic()
    old = engine.run("image", "inspect", "--format", "{{.Id}}", recipe.image, check=False)
    try:
        debootstrap(recipe, rootfs, cache / "debs")
        write_files(recipe, rootfs)
        prune(rootfs, PRUNE + recipe.prune)
        import_rootfs(engine, recipe, rootfs)
    finally:
        remove_rootfs(rootfs)
    if old.returncode == 0:  # drop the outdated image unless something still builds on it
        engine.run("image", "rm", old.stdout.strip(), check=False)
    log.info("built %s in %.1fs", recipe.image, time.monotonic() - started)
    return True


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` (debootstrap mounts /proc and /sys in its target)."""
    prefix = str(path.resolve())
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


def remove_rootfs(rootfs: Path) -> None:
    """Unmount what a killed debootstrap left mounted, then delete; never recurse into a mount."""
    if not rootfs.exists():
        return
    for point in sorted(mounts_under(rootfs), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    if mounts_under(rootfs):
        raise LabError(f"{rootfs} still has mounts; unmount them and delete it by hand")
    shutil.rmtree(rootfs, ignore_errors=True)


def debootstrap(recipe: Recipe, rootfs: Path, debs: Path) -> None:
    remove_rootfs(rootfs)
    rootfs.mkdir(parents=True)
    debs.mkdir(parents=True, exist_ok=True)
    argv = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(recipe.packages)}",
        f"--cache-dir={debs.resolve()}",
        SUITE,
        str(rootfs),
        find_mirror(),
    ]
    log.info("debootstrap %s: %s", recipe.image, " ".join(recipe.packages))
    _check_run(argv, DEBOOTSTRAP_TIMEOUT)


def _check_run(argv: list[str], timeout: float) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise LabError(f"{argv[0]} is not installed (run scripts/ensure-engine.sh)") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{argv[0]} timed out after {timeout:g}s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
        raise LabError(f"{argv[0]} failed ({done.returncode}):\n{tail}")


def write_files(recipe: Recipe, rootfs: Path) -> None:
    for item in recipe.files:
        target = rootfs / item.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(item.content)
        target.chmod(item.mode)


def prune(rootfs: Path, paths: tuple[str, ...]) -> None:
    """Drop docs, caches, apt lists and the recipe's extras; keep the directories themselves."""
    for rel in paths:
        path = rootfs / rel
        if path.is_dir():
            shutil.rmtree(path)
            path.mkdir()
        elif path.exists():
            path.unlink()


def import_rootfs(engine: Engine, recipe: Recipe, rootfs: Path) -> None:
    """`tar -C rootfs -c . | docker import --change ... - IMAGE`."""
    changes = [arg for change in recipe.import_changes() for arg in ("--change", change)]
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE
    )
    assert tar.stdout is not None
    try:
        engine.run_with_stdin(["import", *changes, "-", recipe.image], tar.stdout, IMPORT_TIMEOUT)
    finally:
        tar.stdout.close()
        returncode = tar.wait(timeout=60)
    if returncode != 0:
        raise LabError(f"tar of {rootfs} failed ({returncode})")


def ensure_rootfs_images(engine: Engine) -> list[str]:
    """Build the base and node images when needed; the names of those built."""
    return [r.image for r in RECIPES if ensure_recipe(engine, r)]

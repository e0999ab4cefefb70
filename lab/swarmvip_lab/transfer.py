"""Copy images from the host engine into node engines: save once, load in parallel."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from swarmvip_lab.engine import Engine, LabError

log = logging.getLogger("swarmvip_lab")


def image_id(engine: Engine, image: str) -> str | None:
    done = engine.run("image", "inspect", "--format", "{{.Id}}", image, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def stale(host: Engine, target: Engine, images: Sequence[str]) -> bool:
    """True when `target` lacks one of `images` or has another version of it."""
    return any(image_id(target, img) != image_id(host, img) for img in images)


def copy_images(
    host: Engine, targets: Sequence[Engine], images: Sequence[str], work: Path | None = None
) -> int:
    """Load `images` into every target that lacks them; the number of engines loaded."""
    missing = [img for img in images if image_id(host, img) is None]
    if missing:
        raise LabError(
            f"image(s) not on the host engine: {', '.join(missing)} (run `swarmvip lab images`)"
        )
    todo = [t for t in targets if stale(host, t, images)]
    if not todo:
        return 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="swarmvip-images-", dir=work) as tmp:
        tar = Path(tmp) / "images.tar"
        host.run("save", "-o", str(tar), *images, timeout=300)
        with ThreadPoolExecutor(max_workers=len(todo)) as pool:
            list(pool.map(lambda t: t.load_file(tar), todo))
    log.info(
        "loaded %s into %d node(s) in %.1fs",
        " ".join(images),
        len(todo),
        time.monotonic() - started,
    )
    return len(todo)

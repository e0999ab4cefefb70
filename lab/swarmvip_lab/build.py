"""Build every image the lab needs: base and node (debootstrap) and the agent (./Dockerfile)."""

from __future__ import annotations

import logging

from swarmvip_lab.agent_image import ensure_agent_image, find_source_root
from swarmvip_lab.engine import Engine, LabError, file_lock, host_engine
from swarmvip_lab.images import cache_dir, ensure_rootfs_images

log = logging.getLogger("swarmvip_lab")


def ensure_images(host: Engine | None = None, agent: bool = True) -> list[str]:
    """Build what is missing or outdated; the names of the images built.

    Serialised by a lock in the cache dir: concurrent runs wait, then find the images current.
    """
    import swarmvip

    host = host or host_engine()
    with file_lock(cache_dir() / "build.lock"):
        built = ensure_rootfs_images(host)
        if agent and _agent_buildable(host) and ensure_agent_image(host):
            built.append(swarmvip.DEFAULT_IMAGE)
    return built


def _agent_buildable(host: Engine) -> bool:
    """Without a checkout (no ./Dockerfile) an existing agent image is used as it is."""
    import swarmvip

    try:
        find_source_root()
    except LabError:
        if host.image_exists(swarmvip.DEFAULT_IMAGE):
            log.warning("no Dockerfile here: using the existing %s", swarmvip.DEFAULT_IMAGE)
            return False
        raise
    return True

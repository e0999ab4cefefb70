"""swarmvip: highly available virtual IPs for Docker Swarm, with keepalived and node labels."""

__version__ = "0.1.0"

# The project publishes the task image here (.github/workflows/release.yml); a stack file's
# x-swarmvip.image, or else $SWARMVIP_IMAGE, names another (a mirror, a private registry).
IMAGE_REPOSITORY = "ghcr.io/swarmvip/swarmvip-agent"
DEFAULT_IMAGE = f"{IMAGE_REPOSITORY}:{__version__}"
IMAGE_ENV = "SWARMVIP_IMAGE"

"""swarmvip: highly available virtual IPs for Docker Swarm, with keepalived and node labels."""

__version__ = "0.1.0"

DEFAULT_IMAGE = f"swarmvip/agent:{__version__}"

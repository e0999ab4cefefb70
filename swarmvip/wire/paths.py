"""Fixed paths inside a keepalived task, shared by the renderer, the service spec and the agent."""

from __future__ import annotations

AGENT_SPEC = "/etc/swarmvip/agent.json"
KEEPALIVED_CONF = "/etc/swarmvip/keepalived.conf"
RUN_DIR = "/run/swarmvip"
WRAPPER_CONF = f"{RUN_DIR}/keepalived.conf"
NOTIFY_FIFO = f"{RUN_DIR}/notify.fifo"
TRACK_DIR = f"{RUN_DIR}/track"
HEALTH_FILE = f"{RUN_DIR}/health.json"
SECRETS_DIR = "/run/secrets"
IFACE_PARAM = "SWARMVIP_IFACE"
STOP_GRACE_ENV = "SWARMVIP_STOP_GRACE"  # the task's stop grace period, for the agent's deadline


def auth_param(group: str) -> str:
    """The keepalived parameter that carries a group's auth_pass (defined by the agent)."""
    return "SWARMVIP_AUTH_" + group.upper().replace("-", "_")


def track_name(group: str, check: str) -> str:
    return f"{group}.{check}"


def track_path(group: str, check: str, track_dir: str = TRACK_DIR) -> str:
    return f"{track_dir}/{group}.{check}"

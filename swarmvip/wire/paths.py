"""Fixed paths inside a keepalived task, shared by the renderer, the service spec and the agent."""

from __future__ import annotations

AGENT_SPEC = "/etc/swarmvip/agent.json"
KEEPALIVED_CONF = "/etc/swarmvip/keepalived.conf"
RUN_DIR = "/run/swarmvip"
# Names inside the run dir (agent.keepalived.Layout joins them to an overridable run dir).
WRAPPER_NAME = "keepalived.conf"
FIFO_NAME = "notify.fifo"
TRACK_NAME = "track"
HEALTH_NAME = "health.json"
WRAPPER_CONF = f"{RUN_DIR}/{WRAPPER_NAME}"
NOTIFY_FIFO = f"{RUN_DIR}/{FIFO_NAME}"
TRACK_DIR = f"{RUN_DIR}/{TRACK_NAME}"
HEALTH_FILE = f"{RUN_DIR}/{HEALTH_NAME}"
SECRETS_DIR = "/run/secrets"
IFACE_PARAM = "SWARMVIP_IFACE"
STOP_GRACE_ENV = "SWARMVIP_STOP_GRACE"  # the task's stop grace period, for the agent's deadline
# The service's spec hash (swarmvip.hash): the agent repeats it in every report, so a writer
# knows when a restarted task runs its new spec from the agent itself (not Docker's health).
SPEC_ENV = "SWARMVIP_SPEC"
# The service's id, filled in by Swarm from a template (service_spec): runtime state saved on the
# node belongs to this service only (a removed and re-deployed stack starts from its configs).
SERVICE_ID_ENV = "SWARMVIP_SERVICE_ID"
SERVICE_ID_TEMPLATE = "{{.Service.ID}}"


def auth_param(group: str) -> str:
    """The keepalived parameter that carries a group's auth_pass (defined by the agent)."""
    return "SWARMVIP_AUTH_" + group.upper().replace("-", "_")


def vip_iface_param(group: str) -> str:
    """The keepalived parameter naming the NIC of a group's VIPs (`interface:` of the group,
    detected and defined by the agent)."""
    return "SWARMVIP_VIPIF_" + group.upper().replace("-", "_")


def track_name(group: str, check: str) -> str:
    return f"{group}.{check}"


def track_path(group: str, check: str, track_dir: str = TRACK_DIR) -> str:
    return f"{track_dir}/{track_name(group, check)}"


# The runtime priority of a group (wire.command): a track file with weight 1 holding the delta
# from the configured priority. ".." never occurs in `group.check` (a check name has no dot).
def priority_track_name(group: str) -> str:
    return f"{group}..priority"


def priority_track_path(group: str, track_dir: str = TRACK_DIR) -> str:
    return f"{track_dir}/{priority_track_name(group)}"


# Where the agent keeps the last applied runtime command across task restarts: a named volume
# (one per stack and node, created by Docker on first use).
STATE_DIR = "/var/lib/swarmvip"
CONTROL_KEY = f"{SECRETS_DIR}/swarmvip_control_key"  # wire.command.KEY_SECRET, mounted

"""How a keepalived task looks to Swarm: the service spec of one pinned keepalived service.

Replicated 1, pinned by node id, host network, every capability dropped but NET_ADMIN and
NET_RAW, never privileged, a tmpfs run dir, stop-first updates, the daemon's default log
driver. docker-py types out.
`x-swarmvip.agent` adds environment variables, secrets, configs and read-only binds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import docker.types
from docker.types import (
    ConfigReference,
    ContainerSpec,
    NetworkAttachmentConfig,
    Placement,
    RestartPolicy,
    SecretReference,
    ServiceMode,
    TaskTemplate,
    UpdateConfig,
)

from swarmvip.plan.desired import CAP_DROP, CAPABILITIES, RUN_TMPFS_BYTES, DesiredService
from swarmvip.wire import paths
from swarmvip.wire.keys import DOCKER_STACK_PREFIX
from swarmvip.wire.paths import STOP_GRACE_ENV

CONFIG_MODE = 0o444  # the agent's own configs and secrets
SECRET_MODE = 0o400


def service_spec(
    service: DesiredService, config_ids: Mapping[str, str], secret_ids: Mapping[str, str]
) -> dict[str, Any]:
    """A keepalived task's service spec (docker-py types); config_ids/secret_ids: {name: id}.

    Hardening (audit 21): every capability dropped but NET_ADMIN and NET_RAW, and a tmpfs
    (0700, 16 MiB) on the agent's run dir /run/swarmvip (the wrapper with the password, the
    FIFO, track and pid files). Nothing needs another capability: agent and keepalived run
    as root and own every file they touch (run dir, secrets uid 0 mode 0400, configs 0444),
    signal only their own uid's processes, run no script as another user (the template
    has script_user root and only track_file/notify_fifo) and bind no port below 1024.
    """
    labels = dict(service.labels)
    spec = ContainerSpec(
        image=service.image,
        hostname=service.hostname,
        labels={k: v for k, v in labels.items() if k.startswith(DOCKER_STACK_PREFIX)},
        stop_grace_period=int(service.stop_grace_period * 1e9),
        stop_signal="SIGTERM",
        # Only what VRRP needs (addresses, raw VRRP/ARP/NA sockets); Docker's defaults
        # (CHOWN, DAC_OVERRIDE, SETUID, SETGID, KILL, ...) are dropped.
        cap_drop=list(CAP_DROP),
        cap_add=list(CAPABILITIES),
        # The agent's stop deadline for keepalived derives from the grace period; then
        # x-swarmvip.agent's variables (never one of the agent's: spec/agentblock.py).
        env=[
            f"{STOP_GRACE_ENV}={service.stop_grace_period:g}",
            f"{paths.SPEC_ENV}={service.spec_hash}",  # the agent reports it: wait on reports
            f"{paths.SERVICE_ID_ENV}={paths.SERVICE_ID_TEMPLATE}",  # Swarm fills in the id
            *service.env,
        ],
        # The wrapper holding the VRRP password never touches the container's disk layer.
        mounts=[
            docker.types.Mount(
                target=paths.RUN_DIR,
                source="",
                type="tmpfs",
                tmpfs_size=RUN_TMPFS_BYTES,
                tmpfs_mode=0o700,
            ),
            # The runtime channel's last command survives a task restart (wire.command).
            *(
                [docker.types.Mount(target=paths.STATE_DIR, source=service.state_volume)]
                if service.state_volume
                else []
            ),
            # x-swarmvip.agent.volumes: host paths for checks and hooks, read-only only.
            *(
                docker.types.Mount(target=b.target, source=b.source, type="bind", read_only=True)
                for b in service.binds
            ),
        ],
        configs=[
            ConfigReference(
                config_ids[m.source],
                m.source,
                filename=m.target,
                mode=CONFIG_MODE if m.mode is None else m.mode,
            )
            for m in service.configs
        ],
        secrets=[
            SecretReference(
                secret_ids[m.source],
                m.source,
                filename=m.target,
                mode=SECRET_MODE if m.mode is None else m.mode,
            )
            for m in service.secrets
        ],
    )
    template = TaskTemplate(
        container_spec=spec,
        placement=Placement(constraints=[f"node.id=={service.node_id}"]),
        restart_policy=RestartPolicy(condition="any", delay=1_000_000_000),
        networks=[NetworkAttachmentConfig(target="host")],
        # No log driver: the node's daemon default is kept (the operator's choice). The reports
        # are read with `docker service logs`: json-file, local and journald can be read, others
        # through Docker's dual-logging cache only (ops/deploy.py warns; README "Logs").
    )
    return {
        "task_template": template,
        "name": service.name,
        "labels": labels,
        "mode": ServiceMode("replicated", replicas=1),
        "update_config": UpdateConfig(parallelism=1, order="stop-first", failure_action="pause"),
    }

"""`swarmvip render`: the VIP layer as a plain compose stack file plus config files, for GitOps.

The output deploys with `docker stack deploy` alone, as the VIP layer's own stack
`<stack>-vip` (wire.keys.vip_namespace, as `swarmvip deploy` labels it): `docker stack deploy
-c <dir>/<stack>.yml <stack>-vip`, beside the app's `<stack>`, so the app's `--prune` and
`docker stack rm` never touch it. Services are named `<stack>-vip_<host>-<id8>` that way (as
long as `swarmvip deploy`'s `<stack>_vip-<host>-<id8>`, so within swarmkit's 63 characters).
It is a snapshot of today's labels, so re-render after node or label changes (or run the
controller). The runtime priority channel is left out (no key, no spec hash): a rendered stack
changes priorities by a re-render and a redeploy, which restarts the tasks concerned.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import yaml

from swarmvip.plan.desired import (
    CAP_DROP,
    CAPABILITIES,
    RUN_TMPFS_BYTES,
    STOP_GRACE_ENV,
    DesiredState,
)
from swarmvip.render import fmt_seconds
from swarmvip.wire import paths
from swarmvip.wire.command import KEY_SECRET


class PreparedLike(Protocol):
    @property
    def desired(self) -> DesiredState: ...


def compose_document(desired: DesiredState, config_dir: str = "configs") -> dict[str, Any]:
    services = {}
    for svc in desired.services:
        short = svc.name.removeprefix(f"{desired.stack}_vip-")
        services[short] = {
            "image": svc.image,
            "hostname": svc.hostname,
            "cap_add": [c.removeprefix("CAP_") for c in CAPABILITIES],
            "cap_drop": list(CAP_DROP),
            "environment": {STOP_GRACE_ENV: f"{svc.stop_grace_period:g}"},
            "volumes": [
                {"type": "tmpfs", "target": paths.RUN_DIR, "tmpfs": {"size": RUN_TMPFS_BYTES}}
            ],
            "networks": ["hostnet"],
            "stop_grace_period": fmt_seconds(svc.stop_grace_period) + "s",
            "configs": [
                {"source": m.source, "target": m.target, "mode": 0o444} for m in svc.configs
            ],
            "secrets": [
                {"source": m.source, "target": m.target, "mode": 0o400}
                for m in svc.secrets
                if m.source != KEY_SECRET  # the runtime channel needs `swarmvip deploy`
            ]
            or None,
            "deploy": {
                "replicas": 1,
                "labels": dict(svc.labels),
                "placement": {"constraints": [f"node.id == {svc.node_id}"]},
                "update_config": {"order": "stop-first"},
            },
        }
        if services[short]["secrets"] is None:
            del services[short]["secrets"]
    doc: dict[str, Any] = {
        "version": "3.8",
        "services": services,
        "networks": {"hostnet": {"external": True, "name": "host"}},
        "configs": {
            c.name: {"name": c.name, "file": f"{config_dir}/{c.name}"} for c in desired.configs
        },
    }
    secrets: dict[str, dict[str, Any]] = {
        s.name: {"name": s.name, "file": f"secrets/{s.name}"} for s in desired.secrets
    }
    secrets |= {name: {"external": True} for name in desired.external_secrets}
    if secrets:
        doc["secrets"] = secrets
    return doc


def write_compose(prepared: PreparedLike, out_dir: str) -> str:
    desired = prepared.desired
    os.makedirs(os.path.join(out_dir, "configs"), exist_ok=True)
    for config in desired.configs:
        with open(os.path.join(out_dir, "configs", config.name), "wb") as handle:
            handle.write(config.data)
    if desired.secrets:
        os.makedirs(os.path.join(out_dir, "secrets"), mode=0o700, exist_ok=True)
    for secret in desired.secrets:
        fd = os.open(
            os.path.join(out_dir, "secrets", secret.name),
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
            0o600,
        )
        with os.fdopen(fd, "wb") as handle:
            handle.write(secret.data)
    path = os.path.join(out_dir, f"{desired.stack}.yml")
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(compose_document(desired), handle, sort_keys=False)
    return path

"""What goes into the images built without a registry: package lists, files and import changes.

A Recipe is pure data; its digest (stored as a label on the imported image) changes with any
edit, so a changed recipe rebuilds and an unchanged one is skipped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

SUITE = "bookworm"
RECIPE_LABEL = "swarmvip.recipe"
BASE_IMAGE = f"swarmvip/base:{SUITE}"
NODE_IMAGE = f"swarmvip/lab-node:{SUITE}"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NODE_SOCKET_DIR = "/swarmvip-lab"
NODE_ENTRYPOINT = "/usr/local/bin/swarmvip-node"
NODE_SSH = "/usr/local/bin/swarmvip-node-ssh"
NODE_SSH_DIR = f"{NODE_SOCKET_DIR}/ssh"  # what the lab gives sshd (swarmvip_lab.ssh)
RECIPE_FORMAT = 1  # bump when the build procedure itself changes

# Removed from every rootfs before import: documentation, caches and package lists.
PRUNE = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/lib/apt/lists",
    "var/cache/apt",
    "var/cache/debconf/templates.dat-old",
    "var/log",
)


@dataclass(frozen=True, slots=True)
class File:
    path: str
    content: str
    mode: int = 0o644


@dataclass(frozen=True, slots=True)
class Recipe:
    image: str
    packages: tuple[str, ...]
    files: tuple[File, ...] = ()
    changes: tuple[str, ...] = ()
    prune: tuple[str, ...] = ()  # extra paths to remove, relative to the rootfs

    def digest(self) -> str:
        """A content hash of everything that shapes the image."""
        blob = json.dumps([RECIPE_FORMAT, SUITE, PRUNE, asdict(self)], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def import_changes(self) -> tuple[str, ...]:
        """The `docker import --change` lines, with the digest label last."""
        return (f"ENV {PATH_ENV}", *self.changes, f"LABEL {RECIPE_LABEL}={self.digest()}")


NODE_ENTRYPOINT_SCRIPT = f"""#!/bin/sh
# swarmvip lab node: make /sys and the cgroup v1 hierarchies writable when the container runs
# emulated-privileged (plain --privileged already has them rw), drop the default route so
# nothing leaves the lab, start sshd when the lab gave its keys, then exec dockerd with a second
# socket in the bind-mounted directory.
set -eu
awk '$4 ~ /(^|,)ro(,|$)/ && ($2 == "/sys" || $2 ~ "^/sys/fs/cgroup") {{print $2}}' \\
    /proc/mounts | while read -r mp; do
    mount -o remount,rw,bind "$mp" 2>/dev/null || mount -o remount,rw "$mp" || \\
        echo "swarmvip-node: cannot remount $mp rw" >&2
done
mount --make-rshared / 2>/dev/null || true
ip route del default 2>/dev/null || true
{NODE_SSH} || echo "swarmvip-node: sshd did not start" >&2
sockdir=${{SWARMVIP_SOCKET_DIR:-{NODE_SOCKET_DIR}}}
mkdir -p "$sockdir"
rm -f "$sockdir/docker.sock" /var/run/docker.pid
export DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
exec dockerd -H unix:///var/run/docker.sock -H "unix://$sockdir/docker.sock" -G root "$@"
"""

NODE_SSH_SCRIPT = f"""#!/bin/sh
# swarmvip lab node: accept ssh from the host when the lab gave this node its keys and sshd
# config ({NODE_SSH_DIR}: authorized_keys, ssh_host_ed25519_key, sshd_config, written by
# `swarmvip lab up`). Root logs in with the lab's key only, on the node's lab address. Run by
# the entrypoint and again by `lab up` (idempotent: a running sshd re-reads its keys).
set -eu
src=${{SWARMVIP_SOCKET_DIR:-{NODE_SOCKET_DIR}}}/ssh
[ -f "$src/sshd_config" ] || exit 0
install -d -m 0700 /root/.ssh
install -m 0600 "$src/authorized_keys" /root/.ssh/authorized_keys
install -m 0600 "$src/ssh_host_ed25519_key" /etc/ssh/ssh_host_ed25519_key
install -m 0644 "$src/sshd_config" /etc/ssh/swarmvip-lab.conf
install -d -m 0755 /run/sshd
if [ -f /run/sshd.pid ] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null; then
    kill -HUP "$(cat /run/sshd.pid)"
else
    /usr/sbin/sshd -f /etc/ssh/swarmvip-lab.conf
fi
"""

BASE = Recipe(
    image=BASE_IMAGE,
    # nftables: a planned move's client switch (swarmvip.agent.arphold)
    packages=("keepalived", "python3", "python3-venv", "iproute2", "nftables"),
    # keepalived links libperl (through libsnmp) but never runs perl code: the ~46 MB of perl
    # modules pulled in with it are dead weight.
    prune=("usr/lib/x86_64-linux-gnu/perl", "usr/share/perl"),
)

NODE = Recipe(
    image=NODE_IMAGE,
    packages=(
        "docker.io",
        "iproute2",
        "iptables",
        "python3",
        "procps",
        "iputils-ping",
        "openssh-server",  # `DOCKER_HOST=ssh://root@NODE` from the host (swarmvip_lab.ssh)
    ),
    files=(
        File(NODE_ENTRYPOINT, NODE_ENTRYPOINT_SCRIPT, 0o755),
        File(NODE_SSH, NODE_SSH_SCRIPT, 0o755),
    ),
    changes=(f'ENTRYPOINT ["{NODE_ENTRYPOINT}"]',),
    # the host keys openssh-server's postinst made would be one private key in every image:
    # the lab installs its own (swarmvip_lab.ssh)
    prune=tuple(
        f"etc/ssh/ssh_host_{kind}_key{ext}"
        for kind in ("rsa", "ecdsa", "ed25519")
        for ext in ("", ".pub")
    ),
)

RECIPES = (BASE, NODE)

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
# nothing leaves the lab, then exec dockerd with a second socket in the bind-mounted directory.
set -eu
awk '$4 ~ /(^|,)ro(,|$)/ && ($2 == "/sys" || $2 ~ "^/sys/fs/cgroup") {{print $2}}' \\
    /proc/mounts | while read -r mp; do
    mount -o remount,rw,bind "$mp" 2>/dev/null || mount -o remount,rw "$mp" || \\
        echo "swarmvip-node: cannot remount $mp rw" >&2
done
mount --make-rshared / 2>/dev/null || true
ip route del default 2>/dev/null || true
sockdir=${{SWARMVIP_SOCKET_DIR:-{NODE_SOCKET_DIR}}}
mkdir -p "$sockdir"
rm -f "$sockdir/docker.sock" /var/run/docker.pid
export DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
exec dockerd -H unix:///var/run/docker.sock -H "unix://$sockdir/docker.sock" -G root "$@"
"""

BASE = Recipe(
    image=BASE_IMAGE,
    packages=("keepalived", "python3", "iproute2"),
    # keepalived links libperl (through libsnmp) but never runs perl code: the ~46 MB of perl
    # modules pulled in with it are dead weight.
    prune=("usr/lib/x86_64-linux-gnu/perl", "usr/share/perl"),
)

NODE = Recipe(
    image=NODE_IMAGE,
    packages=("docker.io", "iproute2", "iptables", "python3", "procps", "iputils-ping"),
    files=(File(NODE_ENTRYPOINT, NODE_ENTRYPOINT_SCRIPT, 0o755),),
    changes=(f'ENTRYPOINT ["{NODE_ENTRYPOINT}"]',),
)

RECIPES = (BASE, NODE)

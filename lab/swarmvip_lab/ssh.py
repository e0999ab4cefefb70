"""ssh into the lab's nodes from the host: `DOCKER_HOST=ssh://root@10.213.0.11`, as from a laptop.

Everything lives in the lab's state directory (`<state>/ssh`, default /run/swarmvip-lab/ssh); the
user's own ~/.ssh is never read for the lab's sake nor written:

- `id_ed25519` (+ .pub): the client key, made by ssh-keygen at the first `lab up` and kept;
- `host_ed25519` (+ .pub): the nodes' host key, installed in every node, and `known_hosts`
  pinning it for the lab's addresses (so no "unknown host" prompt and no blind trust);
- `config`: an ssh_config for the lab's addresses (root, that key, that known_hosts, BatchMode),
  then the user's own ~/.ssh/config and /etc/ssh/ssh_config for every other host;
- `bin/ssh`: `exec ssh -F <state>/ssh/config "$@"`.

`swarmvip lab env --ssh` prints `DOCKER_HOST=ssh://root@<manager>` and puts `bin/` first on
PATH. OpenSSH has no environment variable for its config file, and both the docker CLI and
docker-py (`use_ssh_client=True`, what swarmvip uses) run the `ssh` they find on PATH: so the
wrapper serves `swarmvip status/tui/drain` and the `docker stack deploy` swarmvip runs alike.
(An ssh-agent would carry the key but not the host key; docker-py's paramiko path reads only
~/.ssh/config and ~/.ssh/known_hosts.)

Each node gets `<state>/nodeN/ssh/` (its bind-mounted socket directory): `authorized_keys`, the
host key and an `sshd_config` listening on the node's lab address only, port 22, keys only.
The node image's `swarmvip-node-ssh` (run by its entrypoint, and by `lab up`) installs them and
starts sshd.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from swarmvip_lab.engine import LabError
from swarmvip_lab.layout import SUBNET, Node, state_dir

log = logging.getLogger("swarmvip_lab")

USER = "root"
CLIENT_KEY = "id_ed25519"
HOST_KEY = "host_ed25519"


def ssh_dir() -> Path:
    return state_dir() / "ssh"


def bin_dir() -> Path:
    return ssh_dir() / "bin"


def host_pattern() -> str:
    """The lab's addresses as an ssh pattern: `10.213.0.*`."""
    return str(SUBNET.network_address).rsplit(".", 1)[0] + ".*"


def docker_host(node: Node) -> str:
    return f"ssh://{USER}@{node.ip}"


def client_config(directory: Path) -> str:
    """The ssh_config of the wrapper: the lab's addresses first, then the user's settings."""
    return f"""# written by `swarmvip lab up`: the lab's nodes, with the lab's key and host key
Host {host_pattern()}
    User {USER}
    IdentityFile {directory / CLIENT_KEY}
    IdentitiesOnly yes
    UserKnownHostsFile {directory / "known_hosts"}
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 10
    LogLevel ERROR

# every other host: as without this file
Host *
    Include ~/.ssh/config /etc/ssh/ssh_config
"""


def sshd_config(node: Node) -> str:
    return f"""# written by `swarmvip lab up` for {node.hostname}: root, lab key, lab address only
ListenAddress {node.ip}:22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PrintMotd no
PidFile /run/sshd.pid
MaxStartups 100:30:200
"""


def wrapper(directory: Path, real_ssh: str) -> str:
    return f"""#!/bin/sh
# written by `swarmvip lab up`: ssh with the lab's config (its nodes' key and host key; every
# other host as configured in ~/.ssh/config). On PATH after: eval "$(swarmvip lab env --ssh)"
exec {real_ssh} -F {directory / "config"} "$@"
"""


def _real_ssh() -> str | None:
    """The ssh binary on PATH, never the lab's own wrapper."""
    ours = str(bin_dir())
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != ours)
    return shutil.which("ssh", path=path)


def _keygen(path: Path, comment: str) -> None:
    if path.is_file() and path.with_suffix(".pub").is_file():
        return
    path.unlink(missing_ok=True)
    done = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if done.returncode != 0:
        raise LabError(f"ssh-keygen failed: {done.stderr.strip()}")


def prepare(nodes: Iterable[Node]) -> bool:
    """The keys, known_hosts, config and wrapper in the state dir, and each node's sshd files
    in its socket directory. False (and nothing done) when the host has no ssh-keygen/ssh."""
    real_ssh = _real_ssh()
    if shutil.which("ssh-keygen") is None or real_ssh is None:
        log.warning("no ssh/ssh-keygen on this host (openssh-client): the lab's nodes get no ssh")
        return False
    directory = ssh_dir()
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    _keygen(directory / CLIENT_KEY, "swarmvip-lab")
    _keygen(directory / HOST_KEY, "swarmvip-lab-node")
    host_public = (directory / f"{HOST_KEY}.pub").read_text().split()
    _write(directory / "known_hosts", f"{host_pattern()} {host_public[0]} {host_public[1]}\n")
    _write(directory / "config", client_config(directory))
    bin_dir().mkdir(exist_ok=True)
    _write(bin_dir() / "ssh", wrapper(directory, real_ssh), 0o755)
    authorized = (directory / f"{CLIENT_KEY}.pub").read_text()
    host_key = (directory / HOST_KEY).read_text()
    for node in nodes:
        target = node.socket_dir / "ssh"
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(0o700)
        _write(target / "authorized_keys", authorized)
        _write(target / "ssh_host_ed25519_key", host_key)
        _write(target / "sshd_config", sshd_config(node))
    return True


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    path.write_text(text)
    path.chmod(mode)


def forget_node(node_dir: Path) -> None:
    """Remove a node's copies (teardown); the client key in the state dir stays for the next lab."""
    shutil.rmtree(node_dir / "ssh", ignore_errors=True)


def environment(manager: Node, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables that point docker and swarmvip at the manager over ssh (see the module)."""
    if not (ssh_dir() / "config").is_file() or not (bin_dir() / "ssh").is_file():
        raise LabError("the lab has no ssh set up yet: run `swarmvip lab up`")
    env = os.environ if environ is None else environ
    return {"DOCKER_HOST": docker_host(manager), "PATH": f"{bin_dir()}:{env.get('PATH', '')}"}

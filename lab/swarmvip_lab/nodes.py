"""Node containers on the host engine: network, volumes, privileged probe, start and wait."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence

from swarmvip_lab.engine import DockerError, Engine, LabError
from swarmvip_lab.layout import (
    DROP_DEFAULT_ROUTES,
    LABEL_FILTER,
    NETWORK,
    NETWORK_FORMAT,
    Node,
    network_create_args,
    network_problem,
    node_run_args,
    state_dir,
    volume_create_args,
)

log = logging.getLogger("swarmvip_lab")

ENGINE_WAIT = 60.0
PROBE_FILE = "privileged-mode"


def ensure_network(host: Engine) -> None:
    """Create the internal lab bridge unless it exists; refuse one that is not as layout wants
    it (not internal, or without the IPv6 subnet)."""
    done = host.run("network", "inspect", "--format", NETWORK_FORMAT, NETWORK, check=False)
    if done.returncode != 0:
        host.run(*network_create_args())
    elif problem := network_problem(done.stdout):
        raise LabError(f"network {NETWORK} exists but {problem}; run `swarmvip lab down`")


def outdated_network(host: Engine) -> str | None:
    """Why the existing lab network must be recreated (e.g. made before the lab had IPv6), or
    None when it is current or absent; one `docker network inspect`."""
    done = host.run("network", "inspect", "--format", NETWORK_FORMAT, NETWORK, check=False)
    return network_problem(done.stdout) if done.returncode == 0 else None


def privileged_works(host: Engine, image: str) -> bool:
    """Whether plain --privileged runs here; probed once, the answer cached in the state dir."""
    cache = state_dir() / PROBE_FILE
    if cache.is_file():
        return cache.read_text().strip() == "privileged"
    works = host.ok(
        "run",
        "--rm",
        "--privileged",
        "--network",
        "none",
        "--entrypoint",
        "true",
        image,
        timeout=60,
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("privileged\n" if works else "emulated\n")
    log.info("plain --privileged %s", "works" if works else "fails: emulating it")
    return works


def create_node(host: Engine, node: Node, image: str, privileged: bool) -> None:
    node.socket_dir.mkdir(parents=True, exist_ok=True)
    host.run(*volume_create_args(node))
    host.run(*node_run_args(node, image, privileged))


def container_state(host: Engine, node: Node) -> str:
    """`running`, `exited`, ... or `missing`."""
    done = host.run("inspect", "--format", "{{.State.Status}}", node.container, check=False)
    return done.stdout.strip() if done.returncode == 0 else "missing"


def run_current_image(host: Engine, nodes: Sequence[Node], image: str) -> bool:
    """Whether every node's container runs the current `image` (True when that image is not
    here to compare with, e.g. `lab up --no-build`)."""
    want = host.run("image", "inspect", "--format", "{{.Id}}", image, check=False)
    if want.returncode != 0:
        return True
    names = [n.container for n in nodes]
    have = host.run("inspect", "--format", "{{.Image}}", *names, check=False)
    return have.returncode == 0 and set(have.stdout.split()) == {want.stdout.strip()}


def wait_engine(host: Engine, node: Node, timeout: float = ENGINE_WAIT) -> Engine:
    """Wait until the node's dockerd answers on its bind-mounted socket; fail fast if it died."""
    inner = Engine(node.docker_host)
    deadline = time.monotonic() + timeout
    while not (node.socket.exists() and inner.answers(timeout=3)):
        if container_state(host, node) != "running" or time.monotonic() > deadline:
            raise LabError(f"{node.name}: engine did not come up:\n{logs_tail(host, node)}")
        time.sleep(0.2)
    return inner


def logs_tail(host: Engine, node: Node, lines: int = 15) -> str:
    done = host.run("logs", "--tail", str(lines), node.container, check=False)
    return (done.stdout + done.stderr).strip()


def drop_default_route(host: Engine, node: Node) -> None:
    """Delete the default routes (IPv4 and IPv6) inside the node (the entrypoint deletes the
    IPv4 one too; Docker gives an `--internal` network's containers an IPv6 default route)."""
    host.run("exec", node.container, "sh", "-c", DROP_DEFAULT_ROUTES)


def default_route(host: Engine, container: str) -> str:
    return host.out("exec", container, "ip", "route", "show", "default")


def labelled(host: Engine, kind: str) -> list[str]:
    """Names of the lab's containers / volumes / networks (kind: container, volume, network)."""
    fmt = "{{.Names}}" if kind == "container" else "{{.Name}}"
    args = ["ps", "-a"] if kind == "container" else [kind, "ls"]
    out = host.out(*args, "--filter", LABEL_FILTER, "--format", fmt)
    return sorted(line for line in out.splitlines() if line)


def remove_all(host: Engine) -> dict[str, list[str]]:
    """Remove every container, volume and network carrying the lab label."""
    removed: dict[str, list[str]] = {}
    for kind, verb in (
        ("container", ["rm", "-f", "-v"]),
        ("volume", ["volume", "rm", "-f"]),
        ("network", ["network", "rm"]),
    ):
        names = labelled(host, kind)
        if names:
            host.run(*verb, *names, timeout=180)
        removed[kind] = names
    return removed


def inspect_json(host: Engine, name: str) -> dict[str, object] | None:
    try:
        data = json.loads(host.out("inspect", name))
    except DockerError:
        return None
    return data[0] if data else None

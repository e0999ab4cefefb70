"""The lab: N docker-in-docker nodes forming a real swarm on an internal bridge.

`Lab` is the Python API used by `swarmvip lab ...` and the e2e tests. Layout and addressing
are documented in `swarmvip_lab.layout`.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import swarmvip
from swarmvip.errors import SwarmvipError, UnavailableError
from swarmvip_lab import nodes as containers
from swarmvip_lab import ssh, swarm
from swarmvip_lab.clients import Client, rename_script, start_client
from swarmvip_lab.engine import Engine, LabError, file_lock, host_engine
from swarmvip_lab.layout import CONTAINER_PREFIX, LABEL, LABEL_FILTER, Node, make_nodes, state_dir
from swarmvip_lab.recipes import BASE_IMAGE, NODE_IMAGE, NODE_SSH
from swarmvip_lab.transfer import copy_images

log = logging.getLogger("swarmvip_lab")

DEFAULT_IMAGES = (swarmvip.DEFAULT_IMAGE, BASE_IMAGE)


@dataclass(frozen=True, slots=True)
class NodeStatus:
    name: str
    container: str
    ip: str
    ip6: str
    state: str  # container state: running / exited / missing
    engine: bool  # the node's dockerd answers on its socket
    role: str  # manager / worker / -
    swarm: str  # Ready / Down / -


def teardown(host: Engine | None = None) -> dict[str, list[str]]:
    """Remove everything of this lab (see layout.LABEL_FILTER) and the nodes' socket directories."""
    with file_lock(state_dir() / "lab.lock"):
        removed = containers.remove_all(host or host_engine())
        for sock in state_dir().glob("node*/docker.sock"):
            sock.unlink(missing_ok=True)
            ssh.forget_node(sock.parent)
            with contextlib.suppress(OSError):
                sock.parent.rmdir()
    return removed


class Lab:
    """A multi-node swarm lab on the host engine (default: the local socket, see host_engine)."""

    def __init__(
        self,
        nodes: int = 3,
        managers: int = 1,
        node_image: str = NODE_IMAGE,
        images: Sequence[str] = DEFAULT_IMAGES,
        host: Engine | None = None,
        root: Path | None = None,
    ) -> None:
        if managers not in (1, 3) or managers > nodes:
            raise LabError(f"managers must be 1 or 3 and at most nodes ({nodes})")
        self.host = host or host_engine()
        self.nodes: tuple[Node, ...] = make_nodes(nodes, root)
        self.managers = managers
        self.node_image = node_image
        self.images = tuple(images)

    @classmethod
    def discover(cls, host: Engine | None = None, root: Path | None = None) -> Lab:
        """The lab that exists now (its node count read from the containers' labels)."""
        host = host or host_engine()
        names = host.out(
            "ps",
            "-a",
            "--filter",
            LABEL_FILTER,
            "--filter",
            f"label={LABEL}.node",
            "--format",
            f'{{{{.Label "{LABEL}.node"}}}}',
        )
        count = len([n for n in names.splitlines() if n.startswith("node")])
        if count == 0:
            raise LabError("no lab exists: run `swarmvip lab up`")
        return cls(nodes=count, managers=1, host=host, root=root)

    # -- addressing -------------------------------------------------------------------------
    def node(self, node: str | Node) -> Node:
        if isinstance(node, Node):
            return node
        for candidate in self.nodes:
            if node in (candidate.name, candidate.container, candidate.ip, candidate.ip6):
                return candidate
        raise LabError(f"no lab node {node!r}")

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    @property
    def manager_host(self) -> str:
        """DOCKER_HOST url of the first manager's engine."""
        return self.manager.docker_host

    def engine(self, node: str | Node) -> Engine:
        return Engine(self.node(node).docker_host)

    @property
    def manager_ssh_host(self) -> str:
        """`ssh://root@10.213.0.11`: the manager as a laptop reaches it (see swarmvip_lab.ssh)."""
        return ssh.docker_host(self.manager)

    def ssh_environment(self) -> dict[str, str]:
        """DOCKER_HOST (ssh://) and PATH (the lab's ssh wrapper first) for docker and swarmvip."""
        return ssh.environment(self.manager)

    # -- lifecycle --------------------------------------------------------------------------
    def up(self, build: bool = True) -> bool:
        """Bring the lab up; reuse a healthy one, repair or recreate a broken one.

        Returns True when something was created or repaired.
        """
        self._require_engine()
        if build:
            from swarmvip_lab.build import ensure_images

            ensure_images(self.host, agent=swarmvip.DEFAULT_IMAGE in self.images)
        with file_lock(state_dir() / "lab.lock"):
            return self._up_locked()

    def _up_locked(self) -> bool:
        with_ssh = ssh.prepare(self.nodes)  # first: a starting node's entrypoint starts sshd
        changed = not self.healthy()
        if not changed:
            self.load_images()
        elif not self._repair():
            containers.remove_all(self.host)
            self._create()
        if with_ssh:
            self._start_sshd()
        return changed

    def _start_sshd(self) -> None:
        """(Re)start each node's sshd with the lab's keys (a reused lab's state dir may have
        been wiped, e.g. /run after a reboot); a node image without sshd is only reported."""

        def start(node: Node) -> None:
            done = self.host.run("exec", node.container, NODE_SSH, check=False, timeout=30)
            if done.returncode != 0:
                log.warning("%s: sshd did not start: %s", node.name, done.stderr.strip())

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(start, self.nodes))

    def down(self) -> dict[str, list[str]]:
        """Remove exactly the containers, volumes and network that carry the lab label."""
        return teardown(self.host)

    def healthy(self) -> bool:
        """All nodes running with engines up, and the swarm as asked with every node Ready."""
        try:
            return self._check_health()
        except SwarmvipError as exc:
            log.info("lab not healthy: %s", exc)
            return False

    def _check_health(self) -> bool:
        existing = containers.labelled(self.host, "container")
        expected = {n.container for n in self.nodes}
        if {c for c in existing if not c.startswith(f"{CONTAINER_PREFIX}client")} != expected:
            return False
        if any(containers.container_state(self.host, n) != "running" for n in self.nodes):
            return False
        if problem := containers.outdated_network(self.host):
            log.info("the lab network %s: recreating the lab", problem)
            return False
        if not containers.run_current_image(self.host, self.nodes, self.node_image):
            log.info("the nodes run an older %s: recreating them", self.node_image)
            return False
        if not all(self.engine(n).answers() for n in self.nodes):
            return False
        return self._swarm_matches()

    def _swarm_matches(self) -> bool:
        listed = swarm.list_nodes(self.engine(self.manager))
        ready = {n.hostname for n in listed if n.status == "Ready"}
        managers = [n for n in listed if n.manager]
        return (
            len(listed) == len(self.nodes)
            and ready == {n.hostname for n in self.nodes}
            and len(managers) == self.managers
        )

    def _repair(self) -> bool:
        """Start stopped nodes of an otherwise complete lab; True when that made it healthy."""
        existing = set(containers.labelled(self.host, "container"))
        if not existing or not {n.container for n in self.nodes} <= existing:
            return False
        if containers.outdated_network(self.host):  # its nodes' addresses: only a recreate
            return False
        log.info("repairing the lab: starting stopped nodes")
        try:
            for node in self.nodes:
                if containers.container_state(self.host, node) != "running":
                    self.start(node)
            return self.healthy() and self.load_images() >= 0
        except SwarmvipError as exc:
            log.info("repair failed (%s): recreating", exc)
            return False

    def _create(self) -> None:
        started = time.monotonic()
        containers.ensure_network(self.host)
        privileged = containers.privileged_works(self.host, self.node_image)
        for node in self.nodes:
            containers.create_node(self.host, node, self.node_image, privileged)
        for node in self.nodes:
            containers.wait_engine(self.host, node)
            containers.drop_default_route(self.host, node)
        with ThreadPoolExecutor(max_workers=2) as pool:
            loading = pool.submit(self.load_images)
            self._form_swarm()
            loading.result()
        swarm.wait_ready(self.engine(self.manager), {n.hostname for n in self.nodes})
        log.info("lab of %d node(s) up in %.1fs", len(self.nodes), time.monotonic() - started)

    def _form_swarm(self) -> None:
        first = self.engine(self.manager)
        swarm.init(first, self.manager)
        for index, node in enumerate(self.nodes[1:], start=2):
            role = "manager" if index <= self.managers else "worker"
            swarm.join(self.engine(node), node, first, self.manager, role)

    def load_images(self, images: Sequence[str] | None = None) -> int:
        """Copy images (default: the agent and base images) into every node that lacks them."""
        wanted = tuple(images) if images is not None else self.images
        if not wanted:
            return 0
        return copy_images(self.host, [self.engine(n) for n in self.nodes], wanted)

    def _require_engine(self) -> None:
        if not self.host.answers():
            raise UnavailableError("no Docker Engine answers: run scripts/ensure-engine.sh")

    # -- node operations --------------------------------------------------------------------
    def exec(
        self,
        node: str | Node,
        *argv: str,
        timeout: float = 60.0,
        check: bool = True,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside a node container (not inside a task)."""
        flags = ["-i"] if input is not None else []
        return self.host.run(
            "exec",
            *flags,
            self.node(node).container,
            *argv,
            timeout=timeout,
            check=check,
            input=input,
        )

    def kill(self, node: str | Node) -> None:
        """Crash a node: SIGKILL its container (no restart policy brings it back)."""
        self.host.run("kill", self.node(node).container)

    def start(self, node: str | Node, timeout: float = 90.0) -> None:
        """Bring a killed node back and wait for its engine and its swarm Ready state."""
        target = self.node(node)
        self.host.run("start", target.container)
        containers.wait_engine(self.host, target, timeout=timeout)
        containers.drop_default_route(self.host, target)
        swarm.wait_active(self.engine(target), timeout=timeout)
        swarm.wait_ready(self._reachable_manager(target), {target.hostname}, timeout=timeout)

    def _reachable_manager(self, prefer: Node) -> Engine:
        candidates = [prefer, *self.nodes[: self.managers]]
        for node in candidates:
            engine = self.engine(node)
            if swarm.local_state(engine) == "active" and engine.ok("node", "ls"):
                return engine
        raise LabError("no reachable swarm manager")

    def rename_interface(self, node: str | Node, old: str = "eth0", new: str = "p5p1") -> None:
        """Rename a node's lab NIC (down, rename, up, restore its addresses); swarm stays up."""
        target = self.node(node)
        self.exec(target, "sh", "-c", rename_script(old, new))
        swarm.wait_ready(self._reachable_manager(self.manager), {target.hostname})

    def status(self) -> list[NodeStatus]:
        """One row per node: container state, engine reachability, swarm role and state."""
        view = self._swarm_view()
        rows = []
        for node in self.nodes:
            state = containers.container_state(self.host, node)
            engine = state == "running" and self.engine(node).answers(timeout=3)
            role, ready = view.get(node.hostname, ("-", "-"))
            rows.append(
                NodeStatus(node.name, node.container, node.ip, node.ip6, state, engine, role, ready)
            )
        return rows

    def _swarm_view(self) -> dict[str, tuple[str, str]]:
        try:
            listed = swarm.list_nodes(self._reachable_manager(self.manager))
        except SwarmvipError:
            return {}
        return {n.hostname: ("manager" if n.manager else "worker", n.status) for n in listed}

    def run_client(self, image: str = NODE_IMAGE, slot: int | None = None) -> Client:
        """Start a client container on the lab network at 10.213.0.50+slot and its IPv6 twin
        fd00:213::50+slot (first free).

        The default (node) image has ping, ip and python3; the base image has no ping.
        """
        return start_client(self.host, image, slot)

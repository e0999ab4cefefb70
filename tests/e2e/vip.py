"""Helpers for e2e tests: run the real CLIs against the lab, find who holds a VIP, probe it."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable

from swarmvip_lab import Lab
from swarmvip_lab.runner import ROOT, docker, swarmvip

__all__ = ["ROOT", "docker", "swarmvip"]  # the CLI runners shared with bench/

# The examples in stacks/ default to documentation addresses (192.0.2.x, RFC 5737) and take
# their VIP from a variable, as an operator sets it: on the lab, its own network.
EXAMPLE_VIPS = {
    "DNS_VIP": "10.213.0.100/24",  # edge-dns
    "PROXY_VIP": "10.213.0.110/24",  # proxy-http
    "DB_VIP": "10.213.0.120/24",  # database-tcp
    "API_VIP": "10.213.0.130/24",  # sticky-notify
}


def holders(lab: Lab, vip: str) -> list[str]:
    """Hostnames of running nodes whose interfaces carry the VIP right now."""
    found = []
    for node in lab.nodes:
        out = lab.exec(node, "ip", "-o", "addr", "show", check=False, timeout=10)
        if out.returncode == 0 and f" {vip}/" in out.stdout:
            found.append(node.hostname)
    return found


def planned_order(lab: Lab, *argv: str, env: dict[str, str] | None = None) -> dict[str, list[str]]:
    """{group: hostnames by planned priority, highest first} from `swarmvip plan --json ARGV`
    on the live swarm: the first is the expected holder. Tests ask the planner, never assume
    node1: each group ranks its nodes by rendezvous hashing of the swarm's node ids, balanced
    over the stack (README, "Node labels"), so the order differs from lab to lab."""
    result = swarmvip(lab, "plan", "--json", *argv, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    groups = json.loads(result.stdout)["groups"]
    return {g["group"]: [m["hostname"] for m in g["order"]] for g in groups}


def wait_for(
    what: str, probe: Callable[[], object], timeout: float = 60, interval: float = 0.2
) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def service_labels(lab: Lab, stack: str) -> dict[str, str]:
    """{service name: task ids} of the stack's swarmvip services (to spot restarts)."""
    names = docker(
        lab, "service", "ls", "--filter", f"label=swarmvip.stack={stack}", "--format", "{{.Name}}"
    ).split()
    return {n: " ".join(sorted(docker(lab, "service", "ps", "-q", n).split())) for n in names}


def agent_log(lab: Lab, stack: str, node: str) -> str:
    """The progress lines (stderr) of the keepalived task's agent on `node`."""
    name = next(n for n in service_labels(lab, stack) if n.startswith(f"{stack}_vip-{node}"))
    out = subprocess.run(
        ["docker", "-H", lab.manager_host, "service", "logs", "--raw", name],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return out.stderr


def owned_objects(lab: Lab, stack: str) -> list[str]:
    flt = ["--filter", f"label=swarmvip.stack={stack}"]
    return (
        docker(lab, "service", "ls", *flt, "-q").split()
        + docker(lab, "config", "ls", *flt, "-q").split()
        + docker(lab, "secret", "ls", *flt, "-q").split()
    )


def node_id(lab: Lab, hostname: str) -> str:
    return docker(lab, "node", "inspect", hostname, "--format", "{{.ID}}").strip()


def vip_service(lab: Lab, stack: str, hostname: str) -> str:
    """The name of the stack's keepalived service pinned to `hostname` (names carry the node
    id, so tests look them up by the swarmvip.node label instead of spelling them)."""
    names = docker(
        lab,
        "service",
        "ls",
        "--filter",
        f"label=swarmvip.stack={stack}",
        "--filter",
        f"label=swarmvip.node={node_id(lab, hostname)}",
        "--format",
        "{{.Name}}",
    ).split()
    return names[0] if names else ""


def deploy_with_controller(lab: Lab, file: str) -> None:
    """`swarmvip deploy FILE`, then stacks/controller.yml as stack `swarmvip`, until the
    controller reports healthy and leading (status --json)."""
    result = swarmvip(lab, "deploy", "--resolve-image", "never", file)
    assert result.returncode == 0, result.stdout + result.stderr
    controller = str(ROOT / "stacks" / "controller.yml")
    docker(lab, "stack", "deploy", "--resolve-image", "never", "-c", controller, "swarmvip")
    wait_for(
        "a healthy controller",
        lambda: (
            (s := json.loads(swarmvip(lab, "status", "--json").stdout or "{}").get("controller"))
            and s["healthy"]
            and s["leader"]
        ),
        timeout=90,
    )


def relay_senders(lab: Lab, since: float) -> list[str]:
    """The `swarmvip agent send` commands exec'd in the manager's relay task since `since`
    (time.time()), from the engine's events: `... send --stdin-plan` (started ahead of its
    plan) or `... send --plan BASE64`."""
    task_of = "label=com.docker.swarm.service.name=swarmvip_relay"
    relay = docker(lab, "ps", "-q", "--filter", task_of)
    actions = docker(
        lab, "events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
        "--filter", f"container={relay.split()[0]}", "--filter", "event=exec_start",
        "--format", "{{.Action}}",
    )  # fmt: skip
    return [a for a in actions.splitlines() if " agent send" in a]

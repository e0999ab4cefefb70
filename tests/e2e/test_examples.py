"""End to end: the example stacks in stacks/ deployed on the real swarm, doing what they say.

Their own services use public images that cannot be pulled here, so each is deployed with
--vip-only and the service it guards is played by a tiny listener started in the node itself
(the agent's health checks run on the node's host network, so they see it). Which member
holds is the planner's choice (rendezvous hashing of node ids): tests ask `swarmvip plan`.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest
from swarmvip_lab import Lab

from .vip import (
    EXAMPLE_VIPS,
    ROOT,
    docker,
    holders,
    owned_objects,
    planned_order,
    swarmvip,
    vip_service,
    wait_for,
)

pytestmark = pytest.mark.lab
NODES = ("node1", "node2", "node3")


def serve(lab: Lab, node: str, port: int) -> None:
    """An HTTP listener on the node (serves /healthz), retried while the port is still busy."""
    script = (
        f"mkdir -p /tmp/s{port} && touch /tmp/s{port}/healthz && "
        f"(setsid python3 -m http.server {port} -d /tmp/s{port} >/dev/null 2>&1 & "
        f"echo $! > /tmp/s{port}.pid)"
    )
    for _ in range(30):
        lab.exec(node, "sh", "-c", script)
        time.sleep(0.7)
        alive = lab.exec(node, "sh", "-c", f"kill -0 $(cat /tmp/s{port}.pid)", check=False)
        if alive.returncode == 0:
            return
    raise AssertionError(f"could not listen on {node}:{port}")


def stop(lab: Lab, node: str, port: int) -> None:
    lab.exec(
        node,
        "sh",
        "-c",
        f"kill $(cat /tmp/s{port}.pid) 2>/dev/null; rm -f /tmp/s{port}.pid",
        check=False,
    )


def labelled(lab: Lab, key: str, nodes: tuple[str, ...]) -> None:
    for node in NODES:
        if node in nodes:
            docker(lab, "node", "update", "--label-add", f"{key}=true", node)
        else:
            docker(lab, "node", "update", "--label-rm", key, node, check=False)


@pytest.fixture
def deploy(lab: Lab) -> Iterator[object]:
    """deploy(name) --vip-only a stacks/ example; everything is removed afterwards."""
    done: list[str] = []

    def run(name: str) -> str:
        file = str(ROOT / "stacks" / f"{name}.yml")
        result = swarmvip(lab, "deploy", "--vip-only", file, env=EXAMPLE_VIPS)
        assert result.returncode == 0, result.stdout + result.stderr
        done.append(name)
        return result.stdout

    yield run
    for name in done:
        swarmvip(lab, "rm", name)
        wait_for(f"{name} removed", lambda n=name: owned_objects(lab, n) == [], timeout=60)


def test_edge_dns_two_node_vip_with_unicast_peers(lab: Lab, deploy) -> None:  # type: ignore[no-untyped-def]
    labelled(lab, "edge", ("node1", "node2"))
    try:
        deploy("edge-dns")
        example = str(ROOT / "stacks" / "edge-dns.yml")
        top = planned_order(lab, example, env=EXAMPLE_VIPS)["dns"][0]
        assert top in ("node1", "node2")
        wait_for(f"{top} holds the DNS VIP", lambda: holders(lab, "10.213.0.100") == [top], 30)
        plan = json.loads(
            swarmvip(
                lab, "plan", "--json", str(ROOT / "stacks" / "edge-dns.yml"), env=EXAMPLE_VIPS
            ).stdout
        )
        peers = {n["hostname"]: n["instances"][0]["peers"] for n in plan["nodes"]}
        assert peers == {"node1": ["10.213.0.12"], "node2": ["10.213.0.11"]}
        assert plan["warnings"] == []
        # as written (no DNS_VIP), the example's documentation address is not the lab's
        as_written = swarmvip(lab, "plan", str(ROOT / "stacks" / "edge-dns.yml"))
        assert as_written.returncode == 0, as_written.stderr
        assert (
            "swarmvip: warning: x-swarmvip.vips.dns.addresses: 192.0.2.100/24 looks outside"
            " every member's subnet" in as_written.stderr
        )
    finally:
        labelled(lab, "edge", ())


def test_rendered_compose_deploys_with_plain_docker_stack(lab: Lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    labelled(lab, "edge", ("node2", "node3"))
    out = tmp_path / "gitops"
    try:
        example = str(ROOT / "stacks" / "edge-dns.yml")
        result = swarmvip(lab, "render", example, "-o", str(out), env=EXAMPLE_VIPS)
        assert result.returncode == 0, result.stderr
        assert "docker stack deploy -c" in result.stdout and "edge-dns-vip" in result.stdout
        top = planned_order(lab, example, env=EXAMPLE_VIPS)["dns"][0]  # as render computed it
        assert top in ("node2", "node3")
        docker(
            lab,
            "stack",
            "deploy",
            "--resolve-image",
            "never",
            "-c",
            str(out / "edge-dns.yml"),
            "edge-dns-vip",  # the VIP layer's own stack, as `render` says
        )
        wait_for(f"{top} holds the VIP", lambda: holders(lab, "10.213.0.100") == [top], 60)
    finally:
        docker(lab, "stack", "rm", "edge-dns-vip", check=False)
        labelled(lab, "edge", ())
    wait_for("the VIP is gone", lambda: holders(lab, "10.213.0.100") == [], 60)
    wait_for("nothing left", lambda: owned_objects(lab, "edge-dns") == [], 60)


def test_http_checked_proxy_leaves_on_failure_and_returns(lab: Lab, deploy) -> None:  # type: ignore[no-untyped-def]
    labelled(lab, "proxy", NODES)
    vip = "10.213.0.110"
    try:
        for node in NODES:
            serve(lab, node, 8080)
        deploy("proxy-http")
        order = planned_order(lab, str(ROOT / "stacks" / "proxy-http.yml"), env=EXAMPLE_VIPS)
        top, second = order["proxy"][:2]
        wait_for(f"{top} holds the proxy VIP", lambda: holders(lab, vip) == [top], 30)
        stop(lab, top, 8080)
        left = time.monotonic()
        wait_for(
            "the VIP leaves the failing node",
            lambda: holders(lab, vip) == [second],
            15,
            interval=0.05,
        )
        print(f"\nproxy: failing check moved the VIP in {time.monotonic() - left:.2f}s")
        serve(lab, top, 8080)
        wait_for("the VIP returns after recovery", lambda: holders(lab, vip) == [top], 30)
    finally:
        for node in NODES:
            stop(lab, node, 8080)
        labelled(lab, "proxy", ())


def test_tcp_checked_database_vip_needs_a_listener(lab: Lab, deploy) -> None:  # type: ignore[no-untyped-def]
    labelled(lab, "db", NODES)
    vip = "10.213.0.120"
    try:
        deploy("database-tcp")
        time.sleep(5)
        assert holders(lab, vip) == []  # no database anywhere: every node is in FAULT
        for node in NODES:
            serve(lab, node, 5432)
        holder = wait_for(
            "a holder once the database answers",
            lambda: (h := holders(lab, vip)) and len(h) == 1 and h[0],
            30,
        )
        stop(lab, str(holder), 5432)
        wait_for(
            "the VIP leaves the node whose database died",
            lambda: (h := holders(lab, vip)) and len(h) == 1 and h[0] != holder,
            30,
        )
    finally:
        for node in NODES:
            stop(lab, node, 5432)
        labelled(lab, "db", ())


def _notify_log(lab: Lab, node: str) -> str:
    host = lab.node(node).docker_host
    task = subprocess.run(
        [
            "docker",
            "-H",
            host,
            "ps",
            "-q",
            "--filter",
            f"label=com.docker.swarm.service.name={vip_service(lab, 'sticky-notify', node)}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not task:
        return ""
    out = subprocess.run(
        ["docker", "-H", host, "exec", task[0], "cat", "/run/swarmvip/notify.log"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout


def test_sticky_vip_with_auth_and_notify_hook_stays_where_it_landed(lab: Lab, deploy) -> None:  # type: ignore[no-untyped-def]
    vip = "10.213.0.130"
    deploy("sticky-notify")
    first = str(
        wait_for("one holder", lambda: (h := holders(lab, vip)) and len(h) == 1 and h[0], 30)
    )
    assert "api MASTER" in str(wait_for("the master hook ran", lambda: _notify_log(lab, first), 30))
    secrets = docker(
        lab,
        "secret",
        "ls",
        "--filter",
        "label=swarmvip.stack=sticky-notify",
        "--format",
        "{{.Name}}",
    ).split()
    assert len(secrets) == 1 and secrets[0].startswith("sticky-notify_vrrp-vrrp_pass-")
    lab.kill(first)
    try:
        second = str(
            wait_for(
                "another node takes over",
                lambda: (h := holders(lab, vip)) and len(h) == 1 and h[0] != first and h[0],
                15,
                interval=0.05,
            )
        )
    finally:
        lab.start(first)
    wait_for(
        f"{first}'s keepalived back as a backup",
        lambda: "api BACKUP" in _notify_log(lab, first),
        120,
    )
    time.sleep(3)
    assert holders(lab, vip) == [second]  # sticky: no move back

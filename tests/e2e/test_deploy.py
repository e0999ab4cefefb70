"""End to end on a real 3-node swarm: deploy, VIP on the top node, failover, re-deploy, rm.

These tests run in file order on one deployment of stacks/lab-web.yml (a web server on every
node that answers with its hostname, behind VIP 10.213.0.100 with an HTTP check). Which node
is on top is the planner's choice (rendezvous hashing of the node ids): the `order` fixture
asks `swarmvip plan` once, and the tests follow it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from swarmvip_lab import Lab
from swarmvip_lab.clients import Client

from swarmvip.cluster import DockerCluster
from swarmvip.wire.relay import MovePlan, Step, Target, Until, plan_to_json

from .probe import Probe
from .vip import (
    ROOT,
    agent_log,
    docker,
    holders,
    node_id,
    owned_objects,
    planned_order,
    service_labels,
    swarmvip,
    vip_service,
    wait_for,
)

pytestmark = pytest.mark.lab
VIP = "10.213.0.100"
STACK = "lab-web"
FILE = str(ROOT / "stacks" / "lab-web.yml")


@pytest.fixture(scope="module")
def deployed(lab: Lab) -> Iterator[str]:
    for node in lab.nodes:
        docker(lab, "node", "update", "--label-add", "web=true", node.hostname)
    # the lab has no registry: docker's default (pin images to a registry digest) cannot answer
    result = swarmvip(lab, "deploy", "--resolve-image", "never", FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    yield result.stdout
    swarmvip(lab, "rm", STACK)


@pytest.fixture(scope="module")
def order(lab: Lab, deployed: str) -> list[str]:
    """The web group's nodes by planned priority, highest first (the expected holder first)."""
    ranked = planned_order(lab, FILE)["web"]
    assert sorted(ranked) == ["node1", "node2", "node3"]
    return ranked


def fetch(client: Client, timeout: float = 1.0) -> str:
    return client.get(f"http://{VIP}:8080/", timeout)


def test_deploy_puts_the_vip_on_the_top_priority_node(
    lab: Lab, deployed: str, order: list[str], client: Client
) -> None:
    assert "3/3 keepalived tasks running" in deployed
    top = order[0]
    wait_for(f"{top} holds", lambda: holders(lab, VIP) == [top], timeout=30)
    assert wait_for("the web service through the VIP", lambda: fetch(client), 60) == top


def status(lab: Lab, settled: bool = True) -> dict:  # type: ignore[type-arg]
    """status --json; while a task restarts (not `settled`) a critical alarm (exit 1) is fine."""
    result = swarmvip(lab, "status", "--json", "--stack", STACK)
    assert result.returncode in ((0,) if settled else (0, 1)), result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_status_json_reports_the_real_holder(lab: Lab, deployed: str, order: list[str]) -> None:
    top = order[0]
    doc = wait_for(
        f"status sees {top} holding",
        lambda: (d := status(lab))["vips"] and d["vips"][0]["holders"] == [top] and d,
        timeout=30,
    )
    assert isinstance(doc, dict) and doc["schema"] == 1
    vip = doc["vips"][0]
    assert vip["name"] == "web" and vip["addresses"] == ["10.213.0.100/24"]
    assert vip["expected_holder"] == top
    states = {n["hostname"]: n["vrrp_state"].get("lab-web/web") for n in doc["nodes"]}
    assert states == {n: "MASTER" if n == top else "BACKUP" for n in order}
    assert not [a for a in doc["alarms"] if a["severity"] == "critical"]


def test_a_node_whose_nic_is_not_eth0_works_unchanged(
    lab: Lab, deployed: str, order: list[str]
) -> None:
    state = "MASTER" if order[0] == "node3" else "BACKUP"  # preferred: the top takes it back
    lab.rename_interface("node3", "eth0", "p5p1")
    docker(lab, "service", "update", "--force", "--detach", vip_service(lab, STACK, "node3"))
    doc = wait_for(
        "node3's agent on p5p1",
        lambda: next(
            (
                n
                for n in status(lab, settled=False)["nodes"]
                if n["hostname"] == "node3"
                and n["interface"] == "p5p1"
                and n["vrrp_state"].get("lab-web/web") == state
            ),
            None,
        ),
        timeout=60,
    )
    assert doc


def test_docker_stack_commands_see_the_services(lab: Lab, deployed: str) -> None:
    """The app is the docker stack lab-web, its VIP layer the docker stack lab-web-vip."""
    assert "service lab-web_web" in deployed  # docker's own "Creating service …" is shown
    app = docker(lab, "stack", "services", STACK, "--format", "{{.Name}}").split()
    layer = docker(lab, "stack", "services", f"{STACK}-vip", "--format", "{{.Name}}").split()
    assert app == [f"{STACK}_web"]
    assert sorted(layer) == sorted(vip_service(lab, STACK, n) for n in ("node1", "node2", "node3"))
    assert "Running" in docker(lab, "stack", "ps", f"{STACK}-vip")
    assert {STACK, f"{STACK}-vip"} <= set(
        docker(lab, "stack", "ls", "--format", "{{.Name}}").split()
    )


def test_services_are_pinned_capped_and_not_privileged(lab: Lab, deployed: str) -> None:
    spec = docker(
        lab,
        "service",
        "inspect",
        vip_service(lab, STACK, "node2"),
        "--format",
        "{{json .Spec.TaskTemplate}}",
    )
    assert '"CapabilityAdd":["CAP_NET_ADMIN","CAP_NET_RAW"]' in spec
    node_id = docker(lab, "node", "inspect", "node2", "--format", "{{.ID}}").strip()
    assert f'"Constraints":["node.id=={node_id}"]' in spec
    assert "docker.sock" not in spec
    node2 = lab.node("node2")
    task = wait_for(
        "the task container",
        lambda: subprocess.run(
            [
                "docker",
                "-H",
                node2.docker_host,
                "ps",
                "-q",
                "--filter",
                f"label=com.docker.swarm.service.name={vip_service(lab, STACK, 'node2')}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip(),
    )
    mode = subprocess.run(
        [
            "docker",
            "-H",
            node2.docker_host,
            "inspect",
            str(task),
            "--format",
            "{{.HostConfig.NetworkMode}} {{.HostConfig.Privileged}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert mode == ["host", "false"]


def test_unchanged_redeploy_writes_nothing_and_restarts_nothing(lab: Lab, deployed: str) -> None:
    before = service_labels(lab, STACK)
    result = swarmvip(lab, "deploy", "--vip-only", FILE)
    assert result.returncode == 0, result.stderr
    assert "0 change(s)" in result.stdout
    assert service_labels(lab, STACK) == before


def test_bad_stack_file_exits_2_and_leaves_the_swarm_untouched(
    lab: Lab, deployed: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "x-swarmvip:\n  vips:\n    web:\n      addresses: [10.213.0.100/24]\n      vrid: 300\n"
    )
    before = service_labels(lab, STACK)
    result = swarmvip(lab, "deploy", "--stack", STACK, str(bad))
    assert result.returncode == 2
    assert "bad.yml:5: x-swarmvip.vips.web.vrid" in result.stderr
    assert service_labels(lab, STACK) == before


def test_killing_the_holder_moves_the_vip_and_clients_follow(
    lab: Lab, deployed: str, order: list[str], client: Client
) -> None:
    top, second = order[:2]
    wait_for(f"{top} holds", lambda: holders(lab, VIP) == [top], timeout=30)
    killed = time.monotonic()
    lab.kill(top)
    wait_for(f"{second} takes over", lambda: holders(lab, VIP) == [second], 15, interval=0.05)
    moved = time.monotonic() - killed
    assert wait_for(f"the client reaches {second}", lambda: fetch(client) == second, 15)
    print(f"\nholder killed: {second} held the VIP {moved:.2f}s after docker kill")


def test_preferred_vip_returns_when_the_node_comes_back(
    lab: Lab, deployed: str, order: list[str], client: Client
) -> None:
    top = order[0]
    lab.start(top)
    wait_for(f"{top} holds again", lambda: holders(lab, VIP) == [top], timeout=120)
    assert wait_for(f"the client reaches {top}", lambda: fetch(client) == top, 30)


def test_label_change_replans_only_the_affected_node(
    lab: Lab, deployed: str, order: list[str]
) -> None:
    """Labelling the last node of the order: a priority change goes over the runtime channel
    (no task restarts, plan shows no service update); the others keep their values."""
    last = order[-1]
    tasks = service_labels(lab, STACK)
    docker(lab, "node", "update", "--label-add", "swarmvip.priority=254", last)
    try:
        plan = swarmvip(lab, "plan", "--json", FILE)
        assert plan.returncode == 0, plan.stderr
        assert '"action": "update"' not in plan.stdout
        result = swarmvip(lab, "deploy", "--vip-only", FILE)
        assert result.returncode == 0, result.stderr
        assert "update service" not in result.stdout, result.stdout
        assert "runtime priorities applied" in result.stdout, result.stdout
        wait_for(f"{last} takes the VIP", lambda: holders(lab, VIP) == [last], timeout=10)
        assert service_labels(lab, STACK) == tasks  # not one task restarted
    finally:
        docker(lab, "node", "update", "--label-rm", "swarmvip.priority", last)
        swarmvip(lab, "deploy", "--vip-only", FILE)


def test_drain_moves_the_vip_make_before_break_and_undrain_returns_it(
    lab: Lab, deployed: str, order: list[str], client: Client
) -> None:
    top, second = order[:2]
    wait_for(f"{top} holds", lambda: holders(lab, VIP) == [top], timeout=60)
    tasks = service_labels(lab, STACK)
    probe = Probe(client, f"http://{VIP}:8080/", seconds=60)
    started = time.monotonic()
    result = swarmvip(lab, "drain", top, "--timeout", "60")
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert "runtime priorities applied" in result.stdout, result.stdout
    assert f"lab-web/web: {top} → {second}" in result.stdout
    assert holders(lab, VIP) == [second]
    assert fetch(client) == second
    labels = docker(lab, "node", "inspect", top, "--format", "{{json .Spec.Labels}}")
    assert '"swarmvip.drain":"true"' in labels
    print(f"\ndrain ({took:.2f}s): {result.stdout.strip().splitlines()[-1]}")
    result = swarmvip(lab, "undrain", top, "--timeout", "60")
    assert result.returncode == 0, result.stdout + result.stderr
    assert holders(lab, VIP) == [top]
    assert service_labels(lab, STACK) == tasks  # drain and undrain restarted no task
    seen = probe.result()
    print(
        f"drain + undrain: {seen.moves} moves, largest client gap {seen.max_gap * 1000:.0f} ms,"
        f" {seen.fails} failed of {seen.requests}"
    )
    # make-before-break: no hole; only a request in flight at the instant of a move can fail
    assert seen.fails <= seen.moves and seen.max_gap < 0.5
    # the old holders switched the clients themselves (agent.arphold: nft in the image, the
    # netdev egress hook in the kernel): the drained node at the drain, the second at undrain
    said = {n: agent_log(lab, STACK, n) for n in (top, second)}
    for node, log in said.items():
        print(f"{node}: " + "\n  ".join(x for x in log.splitlines() if "swarmvip agent" in x))
    assert "switched web's clients to" in said[top]
    assert "switched web's clients to" in said[second]


def test_the_restart_path_resets_priorities_a_runtime_change_left(
    lab: Lab, deployed: str, order: list[str]
) -> None:
    """A runtime change leaves the task (and its config) as it was, its priority changed at
    runtime only. Undoing it on the restart path (SWARMVIP_MOVE=restart, or a fallback) finds
    no config to change on that node, and a restart with the same spec keeps runtime
    priorities: converge must give that agent its planned priority back, or the VIP stays."""
    top, last = order[0], order[-1]
    wait_for(f"{top} holds", lambda: holders(lab, VIP) == [top], timeout=60)
    docker(lab, "node", "update", "--label-add", "swarmvip.priority=254", last)
    try:
        lifted = swarmvip(lab, "deploy", "--vip-only", FILE)
        assert lifted.returncode == 0 and "runtime priorities applied" in lifted.stdout
        wait_for(f"{last} takes the VIP", lambda: holders(lab, VIP) == [last], timeout=10)
    finally:
        docker(lab, "node", "update", "--label-rm", "swarmvip.priority", last)
    back = swarmvip(lab, "deploy", "--vip-only", FILE, env={"SWARMVIP_MOVE": "restart"})
    assert back.returncode == 0, back.stdout + back.stderr
    assert "update service" not in back.stdout, back.stdout  # no config changed: no restart
    assert "runtime priorities applied" in back.stdout, back.stdout  # the reset
    wait_for(f"{top} holds again", lambda: holders(lab, VIP) == [top], timeout=10)


def test_a_restart_path_lift_reaches_a_node_whose_config_already_carries_it(
    lab: Lab, deployed: str, order: list[str]
) -> None:
    """The restart path's 20 s stall (bench/results/planned.md; the unlabel flake): top's
    config carries C, a runtime drain makes it run lower, and the restart path's undrain lifts
    it one above second's C - 1: C, the config it already has. Nothing is written and nothing
    restarts, so only the runtime channel can give top its lift; without it top runs the
    drained priority, never preempts, and the step waits 20 s before going on."""
    top, second, last = order
    wait_for(f"{top} holds", lambda: holders(lab, VIP) == [top], timeout=60)
    config = DockerCluster.connect(lab.manager_host).running_plans(STACK)[node_id(lab, top)]
    carried = config.instances[0].priority
    assert carried >= 3, config  # room for second at C - 1 and last below it
    labels = ((top, carried), (second, carried - 1), (last, 1))
    try:
        for node, priority in labels:
            docker(lab, "node", "update", "--label-add", f"swarmvip.priority={priority}", node)
        ranked = swarmvip(lab, "deploy", "--vip-only", FILE)  # at runtime: no config changes
        assert ranked.returncode == 0, ranked.stdout + ranked.stderr
        assert "update service" not in ranked.stdout, ranked.stdout
        drained = swarmvip(lab, "drain", top, "--timeout", "60")
        assert drained.returncode == 0, drained.stdout + drained.stderr
        assert "runtime priorities applied" in drained.stdout, drained.stdout
        assert holders(lab, VIP) == [second]
        tasks = service_labels(lab, STACK)
        back = swarmvip(lab, "undrain", top, "--timeout", "60", env={"SWARMVIP_MOVE": "restart"})
        assert back.returncode == 0, back.stdout + back.stderr
        assert f"make-before-break: lift {top} to take web" in back.stdout, back.stdout
        assert "did not take" not in back.stdout, back.stdout
        assert f"{top} web={carried}" in back.stdout, back.stdout  # the lift, at runtime
        assert service_labels(lab, STACK) == tasks  # no config changed: no task restarted
        assert holders(lab, VIP) == [top]
    finally:
        for node, _ in labels:
            docker(lab, "node", "update", "--label-rm", "swarmvip.priority", node, check=False)
        docker(lab, "node", "update", "--label-rm", "swarmvip.drain", top, check=False)
        swarmvip(lab, "deploy", "--vip-only", FILE)
    wait_for(f"{top} holds again", lambda: holders(lab, VIP) == [top], timeout=30)


def test_drain_refusals_change_nothing(lab: Lab, deployed: str) -> None:
    before = service_labels(lab, STACK)
    unknown = swarmvip(lab, "drain", "node9")
    assert unknown.returncode == 2 and "no node named 'node9'" in unknown.stderr
    for node in ("node2", "node3"):
        docker(lab, "node", "update", "--label-rm", "web", node)
    try:
        swarmvip(lab, "deploy", "--vip-only", FILE)
        last = swarmvip(lab, "drain", "node1")
        assert last.returncode == 2 and "no healthy backup" in last.stderr
        assert "swarmvip.drain" not in docker(
            lab, "node", "inspect", "node1", "--format", "{{json .Spec.Labels}}"
        )
    finally:
        for node in ("node2", "node3"):
            docker(lab, "node", "update", "--label-add", "web=true", node)
        swarmvip(lab, "deploy", "--vip-only", FILE)
    assert set(service_labels(lab, STACK)) == set(before)


WRITER = """
import sys, docker
from swarmvip.cluster.control import run_relay
run_relay(docker.APIClient(base_url=sys.argv[1]), sys.argv[2])
"""


def _senders(lab: Lab, relay: str) -> int:
    """`agent send` processes running in the relay container."""
    count = (
        "import os\n"
        "def cmd(p):\n"
        "    try:\n"
        "        return open(f'/proc/{p}/cmdline', 'rb').read()\n"
        "    except OSError:\n"
        "        return b''\n"
        "print(sum(b'agent\\x00send\\x00' in cmd(p) for p in os.listdir('/proc') if p.isdigit()))"
    )
    return int(docker(lab, "exec", relay, "python3", "-c", count).strip())


def test_a_relay_plan_stops_when_its_writer_dies(lab: Lab, deployed: str) -> None:
    """A writer killed mid-plan (a controller's task killed) leaves nothing sending: its
    successor may already move the VIP, and a stale lift or settle would take it back."""
    relay = docker(
        lab, "ps", "-q", "--filter", "label=com.docker.swarm.service.name=swarmvip_relay"
    ).split()[0]
    node2 = lab.node("node2")
    never = Target(node_id(lab, "node2"), node2.ip, 9, "none", {"web": 200})  # no answer
    plan = plan_to_json(MovePlan(STACK, 1, (Step((never,), Until(never.node_id, "web")),), 30))
    argv = [sys.executable, "-c", WRITER, lab.manager_host, plan]
    writer = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        assert wait_for("the relay sending", lambda: _senders(lab, relay) == 1, timeout=20)
    finally:
        writer.kill()
        writer.wait(10)
    assert wait_for("the relay stopped", lambda: _senders(lab, relay) == 0, timeout=3)


def test_rm_leaves_nothing_behind(lab: Lab, deployed: str) -> None:
    result = swarmvip(lab, "rm", STACK)
    assert result.returncode == 0, result.stderr
    wait_for("no swarmvip object left", lambda: owned_objects(lab, STACK) == [], timeout=60)
    wait_for("the VIP is gone from every node", lambda: holders(lab, VIP) == [], timeout=30)

"""End to end: the controller keeps the VIP layer in step with node labels, on a real swarm.

tests/e2e/stacks/ctl-web.yml (web on every node, the VIP on nodes labelled vip=true) starts
with the VIP on node1 and node2 only; the controller runs as a service from
stacks/controller.yml. A client probes the VIP every 10 ms during each change. Which member
holds is the planner's choice (rendezvous hashing of node ids): `top` asks `swarmvip plan`.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest
from swarmvip_lab import Lab
from swarmvip_lab.clients import Client
from swarmvip_lab.probe import summary

from .probe import Probe, ProbeResult
from .vip import (
    ROOT,
    deploy_with_controller,
    docker,
    holders,
    planned_order,
    service_labels,
    swarmvip,
    wait_for,
)

pytestmark = pytest.mark.lab
VIP = "10.213.0.101"
STACK = "ctl-web"
FILE = str(ROOT / "tests" / "e2e" / "stacks" / "ctl-web.yml")
URL = f"http://{VIP}:8080/"


REPORT = "swarmvip_controller"  # the controller service's name, in its JSON status lines too
PROBE_MAX = 150  # seconds: a probe covers the whole change, however long it takes, and is
# stopped once the change is seen done (a fixed 30 s window once ended before a slow move)


def _until_now(probe: Probe) -> ProbeResult:
    """The probe's requests up to a second from now, then it stops; the failed ones and each
    change of answering host are printed with their times (shown when an assertion fails)."""
    time.sleep(1)
    requests = probe.stop()
    last: str | None = ""
    for sent, who in sorted(requests):
        if who is None or who != last:
            stamp = time.strftime("%H:%M:%S", time.gmtime(sent))
            print(f"probe {stamp}.{int(sent % 1 * 1000):03d}: {who}")
        last = who
    return summary(requests)


def controller_log(lab: Lab) -> str:
    """The controller's progress lines (its stderr; `docker service logs` prints a task's
    stderr on its own stderr) with their times, without the JSON status lines."""
    out = subprocess.run(
        ["docker", "-H", lab.manager_host, "service", "logs", "--raw", "-t", REPORT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = (out.stdout + out.stderr).splitlines()
    return "\n".join(sorted(line for line in lines if REPORT not in line))


def label(lab: Lab, node: str, on: bool) -> None:
    if on:
        docker(lab, "node", "update", "--label-add", "vip=true", node)
    else:
        docker(lab, "node", "update", "--label-rm", "vip", node, check=False)


def converged(lab: Lab) -> bool:
    plan = swarmvip(lab, "plan", "--json", FILE)
    return plan.returncode == 0 and json.loads(plan.stdout)["actions"] == []


def peers(lab: Lab) -> dict[str, list[str]]:
    doc = json.loads(swarmvip(lab, "plan", "--json", FILE).stdout)
    return {n["hostname"]: n["instances"][0]["peers"] for n in doc["nodes"]}


def top(lab: Lab) -> str:
    """The expected holder for the nodes labelled now."""
    return planned_order(lab, FILE)["web"][0]


def tasks_running(lab: Lab) -> bool:
    out = docker(
        lab,
        "service",
        "ls",
        "--filter",
        f"label=swarmvip.stack={STACK}",
        "--format",
        "{{.Replicas}}",
    ).split()
    return bool(out) and all(r == "1/1" for r in out)


@pytest.fixture(scope="module")
def controlled(lab: Lab) -> Iterator[None]:
    for node, on in (("node1", True), ("node2", True), ("node3", False)):
        label(lab, node, on)
    deploy_with_controller(lab, FILE)
    holder = top(lab)
    wait_for(f"{holder} holds", lambda: holders(lab, VIP) == [holder], timeout=30)
    yield
    docker(lab, "stack", "rm", "swarmvip", check=False)
    swarmvip(lab, "rm", STACK)


def test_status_shows_the_controller(lab: Lab, controlled: None) -> None:
    doc = json.loads(swarmvip(lab, "status", "--json").stdout)
    assert doc["controller"]["healthy"] and doc["controller"]["last_error"] is None
    assert "controller: healthy" in swarmvip(lab, "status").stdout


def test_labelling_a_node_adds_it_and_updates_every_peer_list(
    lab: Lab, controlled: None, client: Client
) -> None:
    assert peers(lab)["node1"] == ["10.213.0.12"]
    before = top(lab)
    # the module's first probe: the web app (just deployed) must answer first, or its start
    # counts as failed requests of the change (seen: 57 and 81 failed before the label went)
    assert wait_for("the app through the VIP", lambda: client.get(URL) == before, timeout=60)
    probe = Probe(client, URL, seconds=PROBE_MAX)
    time.sleep(1)
    label(lab, "node3", True)
    wait_for("the controller to converge", lambda: converged(lab) and tasks_running(lab), 60)
    after = top(lab)  # node1 or node2 again, or node3 if the group ranks it first
    wait_for(f"{after} holds", lambda: holders(lab, VIP) == [after], timeout=30)
    assert peers(lab) == {
        "node1": ["10.213.0.12", "10.213.0.13"],
        "node2": ["10.213.0.11", "10.213.0.13"],
        "node3": ["10.213.0.11", "10.213.0.12"],
    }
    result = _until_now(probe)
    print(controller_log(lab))
    print(
        f"\nlabel node3: {result.moves} VIP move(s), largest client gap "
        f"{result.max_gap * 1000:.0f} ms, {result.fails} failed of {result.requests}"
    )
    assert result.holders[0] == before and result.holders[-1] == after
    # make-before-break: no hole; only a request in flight at the instant of a move can fail
    assert result.moves <= 2 and result.fails <= result.moves and result.max_gap < 0.5


def test_unlabelling_the_holder_moves_the_vip_exactly_once(
    lab: Lab, controlled: None, client: Client
) -> None:
    holder = top(lab)
    wait_for(f"{holder} holds", lambda: holders(lab, VIP) == [holder], timeout=30)
    probe = Probe(client, URL, seconds=PROBE_MAX)
    time.sleep(1)
    label(lab, holder, False)
    wait_for("the controller to converge", lambda: converged(lab) and tasks_running(lab), 60)
    successor = top(lab)
    wait_for(f"{successor} holds", lambda: holders(lab, VIP) == [successor], timeout=30)
    result = _until_now(probe)
    print(controller_log(lab))
    print(
        f"\nunlabel holder: {result.moves} VIP move(s), largest client gap "
        f"{result.max_gap * 1000:.0f} ms, {result.fails} failed of {result.requests}"
    )
    assert result.holders == [holder, successor]
    assert result.fails <= 1 and result.max_gap < 0.5  # make-before-break, as above
    assert not [n for n in service_labels(lab, STACK) if n.startswith(f"{STACK}_vip-{holder}")]
    label(lab, holder, True)
    wait_for(f"{holder} back", lambda: converged(lab) and holders(lab, VIP) == [holder], 90)


def test_swarm_drain_of_a_node_outside_the_group_changes_nothing(
    lab: Lab, controlled: None
) -> None:
    label(lab, "node3", False)
    wait_for("node3 out of the group", lambda: converged(lab) and tasks_running(lab), 60)
    before = service_labels(lab, STACK)
    docker(lab, "node", "update", "--availability", "drain", "node3")
    try:
        time.sleep(8)  # events reach the controller at once; give it time to (not) act
        assert service_labels(lab, STACK) == before
        assert converged(lab)
    finally:
        docker(lab, "node", "update", "--availability", "active", "node3")


def _controller_container(lab: Lab) -> str:
    node1 = lab.node("node1")
    return subprocess.run(
        [
            "docker",
            "-H",
            node1.docker_host,
            "ps",
            "-q",
            "--filter",
            "label=com.docker.swarm.service.name=swarmvip_controller",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _plan_hosts(lab: Lab) -> list[str]:
    return [
        n["hostname"] for n in json.loads(swarmvip(lab, "plan", "--json", FILE).stdout)["nodes"]
    ]


@pytest.mark.parametrize(("delay", "add"), [(0.3, True), (1.5, False), (4.0, True)])
def test_killing_the_controller_mid_apply_still_converges(
    lab: Lab, controlled: None, delay: float, add: bool
) -> None:
    wait_for("a converged start", lambda: converged(lab) and tasks_running(lab), timeout=90)
    target = wait_for("the controller task", lambda: _controller_container(lab), timeout=60)
    label(lab, "node3", add)
    time.sleep(delay)
    subprocess.run(
        ["docker", "-H", lab.node("node1").docker_host, "kill", str(target)],
        capture_output=True,
        check=False,
    )
    wait_for(
        "convergence after the restart",
        lambda: converged(lab) and tasks_running(lab) and ("node3" in _plan_hosts(lab)) == add,
        timeout=120,
    )
    services = service_labels(lab, STACK)
    assert any(n.startswith(f"{STACK}_vip-node3") for n in services) == add
    configs = docker(
        lab, "config", "ls", "--filter", f"label=swarmvip.stack={STACK}", "--format", "{{.Name}}"
    ).split()
    used = " ".join(
        docker(
            lab,
            "service",
            "inspect",
            s,
            "--format",
            "{{json .Spec.TaskTemplate.ContainerSpec.Configs}}",
        )
        for s in services
    )
    orphans = [c for c in configs if c not in used and "-spec-" not in c]
    assert orphans == []
    assert len([c for c in configs if "-spec-" in c]) == 1


def test_a_killed_controller_task_is_known_dead_so_its_lease_is_not_waited_for(
    lab: Lab,
) -> None:
    """lease.ended_controller on the real engine: a controller-labelled task is dead for the
    lease once Swarm shows its container ended (killed), alive while it runs. A dummy service
    with the controller's labels, never restarted, stands in for the controller."""
    from swarmvip.cluster import DockerCluster, lease

    name = "swarmvip-ended-probe"
    docker(lab, "service", "create", "--detach", "--name", name, "--restart-condition", "none",
           "--label", "swarmvip.owner=swarmvip", "--label", "swarmvip.kind=controller",
           "--constraint", "node.hostname==node1", "swarmvip/base:bookworm",
           "sleep", "600")  # fmt: skip
    try:
        running = ("--no-trunc", "--filter", "desired-state=running", "--format", "{{.ID}}")
        task = wait_for(
            "the probe's container",
            lambda: docker(lab, "service", "ps", name, *running, check=False).strip(),
            timeout=60,
        )
        fmt = "{{.Status.ContainerStatus.ContainerID}}"
        cid = str(
            wait_for(
                "its container id",
                lambda: docker(lab, "inspect", "--format", fmt, str(task), check=False).strip(),
                timeout=60,
            )
        )
        api = DockerCluster.connect(lab.manager_host)._api
        identity = f"{cid[:12]}-1"
        assert not lease.ended_controller(api, identity)  # running
        subprocess.run(["docker", "-H", lab.node("node1").docker_host, "kill", cid[:12]],
                       capture_output=True, check=True)  # fmt: skip
        wait_for("Swarm shows it ended", lambda: lease.ended_controller(api, identity), 30)
    finally:
        docker(lab, "service", "rm", name, check=False)

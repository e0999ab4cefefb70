"""End to end: a real Prometheus scrapes the controller's metrics and sees a failover.

The controller runs as a service from stacks/controller.yml (its metrics published on the
manager's port 9815, mode host); Debian's `prometheus` binary runs on the host with a generated
config that scrapes every lab manager's address on the lab bridge every SCRAPE seconds and
loads deploy/prometheus/swarmvip-rules.yml. The VIP of tests/e2e/stacks/ctl-web.yml starts on
node1; the test kills node1's keepalived task (SIGKILL) and measures:

* truth: node2 carries the VIP on its interface (ip addr, read inside the node);
* endpoint: the controller's /metrics shows node2 holding and one more transition (its status
  poll runs every second, behind the agents' reports through the service-logs API);
* Prometheus: its HTTP API on localhost shows the same, within two scrape intervals of the
  endpoint (the endpoint is what Prometheus scrapes).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from swarmvip_lab import Lab

from .vip import ROOT, deploy_with_controller, docker, holders, swarmvip, vip_service, wait_for

pytestmark = pytest.mark.lab
VIP = "10.213.0.101"
STACK = "ctl-web"
FILE = str(ROOT / "tests" / "e2e" / "stacks" / "ctl-web.yml")
RULES = ROOT / "deploy" / "prometheus" / "swarmvip-rules.yml"
PORT = 9815  # stacks/controller.yml
SCRAPE = 1.0  # seconds: Prometheus' scrape and rule evaluation interval
POLL = 1.0  # seconds: the controller's status poll behind its endpoint (ops/metrics.POLL)
DELIVERY = 3.0  # seconds: a report's way from the agent through the service-logs API
JOB = "swarmvip-controller"


def label(lab: Lab, node: str, on: bool) -> None:
    if on:
        docker(lab, "node", "update", "--label-add", "vip=true", node)
    else:
        docker(lab, "node", "update", "--label-rm", "vip", node, check=False)


def manager_addresses(lab: Lab) -> list[str]:
    names = docker(lab, "node", "ls", "--filter", "role=manager", "--format", "{{.Hostname}}")
    return [lab.node(name).ip for name in names.split()]


@pytest.fixture(scope="module")
def controlled(lab: Lab) -> Iterator[None]:
    """The ctl-web VIP on node1 (node2 its backup) and the controller service. node1 holds
    by a priority label: without one, the planner's hashing picks either (README, Node labels)."""
    for node, on in (("node1", True), ("node2", True), ("node3", False)):
        label(lab, node, on)
    docker(lab, "node", "update", "--label-add", "swarmvip.priority=250", "node1")
    deploy_with_controller(lab, FILE)
    wait_for("node1 holds", lambda: holders(lab, VIP) == ["node1"], timeout=30)
    yield
    docker(lab, "stack", "rm", "swarmvip", check=False)
    swarmvip(lab, "rm", STACK)
    docker(lab, "node", "update", "--label-rm", "swarmvip.priority", "node1", check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    """A prometheus process on the host and its HTTP API."""

    def __init__(self, url: str, process: subprocess.Popen[str], log: Path) -> None:
        self.url, self.process, self.log = url, process, log

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=5) as answer:
            doc = json.loads(answer.read())
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, promql: str) -> list[tuple[dict[str, str], float]]:
        data = self.get("/api/v1/query", query=promql)
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def holders(self) -> list[str]:
        found = self.query(f'swarmvip_vip_holder{{stack="{STACK}"}} == 1')
        return sorted(labels["node"] for labels, _ in found)

    def transitions(self) -> float:
        found = self.query(f'sum(swarmvip_vip_transitions_total{{stack="{STACK}"}})')
        return found[0][1] if found else 0.0


@pytest.fixture(scope="module")
def prometheus(
    lab: Lab, controlled: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("no prometheus binary: apt-get install -y prometheus")
    home = tmp_path_factory.mktemp("prometheus")
    targets = [f"{address}:{PORT}" for address in manager_addresses(lab)]
    config = {
        "global": {
            "scrape_interval": f"{SCRAPE:g}s",
            "scrape_timeout": f"{int(SCRAPE * 900)}ms",
            "evaluation_interval": f"{SCRAPE:g}s",
        },
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": targets}]}],
    }
    (home / "prometheus.yml").write_text(json.dumps(config, indent=2))  # JSON is YAML
    port = _free_port()
    log = home / "prometheus.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={home / 'prometheus.yml'}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = Prometheus(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_for("prometheus to start", lambda: _ready(server), timeout=30)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        print(f"\nprometheus log:\n{log.read_text()[-3000:]}")


def _ready(server: Prometheus) -> bool:
    if server.process.poll() is not None:
        raise AssertionError(f"prometheus exited: {server.log.read_text()[-2000:]}")
    try:
        with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def endpoint(lab: Lab) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The controller's /metrics right now, read directly (every manager is tried)."""
    for address in manager_addresses_cache(lab):
        try:
            with urllib.request.urlopen(f"http://{address}:{PORT}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            continue
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
    return {}


_MANAGERS: list[str] = []


def manager_addresses_cache(lab: Lab) -> list[str]:
    if not _MANAGERS:
        _MANAGERS.extend(manager_addresses(lab))
    return _MANAGERS


def endpoint_shows(lab: Lab, node: str, transitions_before: float) -> bool:
    found = endpoint(lab)
    held = [
        v
        for (name, labels), v in found.items()
        if name == "swarmvip_vip_holder" and ("stack", STACK) in labels and ("node", node) in labels
    ]
    moves = sum(
        v
        for (name, labels), v in found.items()
        if name == "swarmvip_vip_transitions_total" and ("stack", STACK) in labels
    )
    return held == [1.0] and moves > transitions_before


def carries(lab: Lab, node: str) -> bool:
    out = lab.exec(node, "ip", "-o", "addr", "show", check=False, timeout=10)
    return out.returncode == 0 and f" {VIP}/" in out.stdout


def keepalived_container(lab: Lab, node: str) -> str:
    service = vip_service(lab, STACK, node)
    assert service, f"no keepalived service of {STACK} on {node}"
    return subprocess.run(
        [
            "docker",
            "-H",
            lab.node(node).docker_host,
            "ps",
            "-q",
            "--filter",
            f"label=com.docker.swarm.service.name={service}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_prometheus_scrapes_the_controller_and_loads_the_rules(
    lab: Lab, prometheus: Prometheus
) -> None:
    wait_for(
        "prometheus to scrape the controller (is prometheus-client in the image?)",
        lambda: prometheus.query(f'up{{job="{JOB}"}} == 1'),
        timeout=60,
    )
    wait_for("the holder series", lambda: prometheus.holders() == ["node1"], timeout=60)
    assert prometheus.query("swarmvip_status_up == 1")
    assert prometheus.query("swarmvip_controller_leader == 1")
    groups = prometheus.get("/api/v1/rules")["groups"]
    assert [g["name"] for g in groups] == ["swarmvip"]
    firing = prometheus.query(
        'ALERTS{alertstate="firing",alertname=~"SwarmvipSplitBrain|SwarmvipNoHolder"}'
    )
    assert firing == []


def test_killing_the_holder_shows_in_prometheus_within_two_scrapes(
    lab: Lab, prometheus: Prometheus
) -> None:
    wait_for("the holder series", lambda: prometheus.holders() == ["node1"], timeout=60)
    wait_for("node1 holds", lambda: holders(lab, VIP) == ["node1"], timeout=30)
    time.sleep(3 * SCRAPE)  # a settled counter
    before = prometheus.transitions()
    target = keepalived_container(lab, "node1")
    assert target, "node1's keepalived task is not running"
    subprocess.run(
        ["docker", "-H", lab.node("node1").docker_host, "kill", target],
        capture_output=True,
        check=True,
    )
    killed = time.monotonic()
    truth = seen_endpoint = seen_prometheus = None
    deadline = killed + 30
    while time.monotonic() < deadline and seen_prometheus is None:
        now = time.monotonic()
        if truth is None and carries(lab, "node2"):
            truth = now
        if seen_endpoint is None and endpoint_shows(lab, "node2", before):
            seen_endpoint = time.monotonic()
        if "node2" in prometheus.holders() and prometheus.transitions() > before:
            seen_prometheus = time.monotonic()
        time.sleep(0.05)
    print(
        f"\nholder killed: node2 carries the VIP after {_s(truth, killed)}, the endpoint shows"
        f" it after {_s(seen_endpoint, killed)}, Prometheus after {_s(seen_prometheus, killed)}"
    )
    assert truth is not None, "node2 never took the VIP"
    assert seen_endpoint is not None, "the controller's endpoint never showed node2 holding"
    assert seen_prometheus is not None, "Prometheus never showed node2 holding and a transition"
    assert seen_endpoint - truth <= POLL + DELIVERY
    assert seen_prometheus - seen_endpoint <= 2 * SCRAPE
    # node1's task restarts and, preferred, takes the VIP back: the lab is as it was
    wait_for("node1 holds again", lambda: holders(lab, VIP) == ["node1"], timeout=90)
    wait_for("prometheus sees node1 again", lambda: prometheus.holders() == ["node1"], 30)


def _s(at: float | None, start: float) -> str:
    return "never" if at is None else f"{at - start:.2f}s"

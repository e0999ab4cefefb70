"""The client probe the e2e tests and the benchmarks share: HTTP through a VIP, open loop.

From a client container on the lab network one request leaves every `every` seconds with a
`timeout`. Open loop (the benchmarks): each in its own thread, whatever the previous ones do,
so a hole cannot hide behind one slow request. Closed loop (`open_loop=False`, the e2e tests'
"at most the one request in flight at a move may fail"): the next leaves when the previous
ended. It stops on stdin EOF or after `limit` seconds and returns every request as (sent_at,
hostname that answered | None); `Probe.errors` keeps why each failed request failed, and in
which phase: `TimeoutError connecting` (no connection, or the request could not be sent) or
`TimeoutError awaiting` (connected and sent, no answer in time). `summary`
folds that into what tests assert: the largest time between two answered requests, failures,
and the hosts in order.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from dataclasses import dataclass

from swarmvip_lab.clients import Client

Request = tuple[float, str | None]  # (sent at, host that answered or None)

SCRIPT = r"""
import concurrent.futures as cf, json, sys, threading, time, urllib.request
url, every, timeout, limit, open_loop = sys.argv[1], *map(float, sys.argv[2:6])
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
def one(t):
    try:
        return [t, urllib.request.urlopen(url, timeout=timeout).read().decode().strip()]
    except Exception as e:
        why = getattr(e, "reason", None)  # urllib wraps what connecting and sending raise
        return [t, None, f"{type(why or e).__name__} {'connecting' if why else 'awaiting'}"]
pool, futs, t0, k = cf.ThreadPoolExecutor(64 if open_loop else 1), [], time.time(), 0
print("ready", flush=True)
while not stop.is_set() and k * every < limit:
    d = t0 + k * every - time.time()
    if d > 0:
        time.sleep(d)
    futs.append(pool.submit(one, time.time()))
    if not open_loop:
        futs[-1].result()
        k = max(k + 1, int((time.time() - t0) / every))
    else:
        k += 1
print(json.dumps([f.result() for f in futs]), flush=True)
"""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    max_gap: float  # largest time between two answered requests (the hole, plus one interval)
    fails: int
    holders: list[str]  # hosts that answered, each change of host once, in order
    requests: int

    @property
    def moves(self) -> int:
        return max(0, len(self.holders) - 1)


def summary(requests: list[Request]) -> ProbeResult:
    answered = sorted((t, who) for t, who in requests if who is not None)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(answered)]
    holders: list[str] = []
    for _, who in answered:
        if not holders or holders[-1] != who:
            holders.append(who)
    return ProbeResult(
        max_gap=max(gaps, default=0.0),
        fails=sum(1 for _, who in requests if who is None),
        holders=holders,
        requests=len(requests),
    )


class Probe:
    """`Probe(client, url, seconds)` starts probing; `stop()` ends it early and returns the
    requests; `result()` waits until `seconds` have passed and summarises them."""

    def __init__(
        self, client: Client, url: str, seconds: float = 120, every: float = 0.01,
        timeout: float = 0.2, open_loop: bool = False,
    ) -> None:  # fmt: skip
        argv = client.host.argv(  # the lab's host engine, whatever $DOCKER_HOST says
            "exec", "-i", client.name, "python3", "-c", SCRIPT, url,
            str(every), str(timeout), str(seconds), str(int(open_loop)),
        )  # fmt: skip
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # "ready": the first request is about to leave
        self.seconds = seconds
        self.errors: dict[float, str] = {}  # sent at -> why it failed (the exception's name)

    def _parse(self, out: str, err: str) -> list[Request]:
        lines = out.strip().splitlines()
        if self.proc.returncode != 0 or not lines:
            raise AssertionError(f"probe failed: {err.strip()}")
        rows = json.loads(lines[-1])
        self.errors = {float(row[0]): row[2] for row in rows if len(row) > 2}
        return [(float(row[0]), row[1]) for row in rows]

    def stop(self) -> list[Request]:
        """End now (stdin EOF) and return every request sent so far."""
        out, err = self.proc.communicate(input="", timeout=self.seconds + 60)
        return self._parse(out, err)

    def result(self) -> ProbeResult:
        """Wait until the probe ran its `seconds` (stdin stays open), then summarise."""
        assert self.proc.stdout is not None and self.proc.stderr is not None
        out = self.proc.stdout.read()  # until the probe exits by itself
        err = self.proc.stderr.read()
        self.proc.wait(timeout=60)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        return summary(self._parse(out, err))

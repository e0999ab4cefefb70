"""A client-side probe: GET the VIP every few ms from a client container, in the background.

It reports the largest time between two successful answers (the client-visible hole, plus one
probe interval), failed requests and the sequence of hostnames that answered (VIP moves).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from swarmvip_lab.clients import Client

SCRIPT = r"""
import json, sys, time, urllib.request
url, duration, every, timeout = sys.argv[1], *map(float, sys.argv[2:5])
end = time.monotonic() + duration
last_ok, max_gap, fails, seq, n = None, 0.0, 0, [], 0
while time.monotonic() < end:
    t = time.monotonic()
    try:
        body = urllib.request.urlopen(url, timeout=timeout).read().decode().strip()
        if last_ok is not None:
            max_gap = max(max_gap, t - last_ok)
        last_ok = t
        if not seq or seq[-1] != body:
            seq.append(body)
    except Exception:
        fails += 1
    n += 1
    time.sleep(max(0.0, every - (time.monotonic() - t)))
print(json.dumps({"max_gap": max_gap, "fails": fails, "holders": seq, "requests": n}))
"""


@dataclass(frozen=True)
class ProbeResult:
    max_gap: float
    fails: int
    holders: list[str]
    requests: int

    @property
    def moves(self) -> int:
        return max(0, len(self.holders) - 1)


class Probe:
    """Start with `Probe(client, url, seconds)`; `result()` waits for the end."""

    def __init__(
        self, client: Client, url: str, seconds: float, every: float = 0.01, timeout: float = 0.2
    ) -> None:
        argv = client.host.argv(  # the lab's host engine, whatever $DOCKER_HOST says
            "exec",
            client.name,
            "python3",
            "-c",
            SCRIPT,
            url,
            str(seconds),
            str(every),
            str(timeout),
        )
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.seconds = seconds

    def result(self) -> ProbeResult:
        out, err = self.proc.communicate(timeout=self.seconds + 60)
        if self.proc.returncode != 0:
            raise AssertionError(f"probe failed: {err}")
        return ProbeResult(**json.loads(out.strip().splitlines()[-1]))

"""Wake the controller on swarm changes: node and service events, one daemon thread.

The stream can end (manager restart) or hang; the controller also resyncs periodically, so a
lost event costs at most one resync interval.
"""

from __future__ import annotations

import threading
from typing import Any

import docker
import docker.errors

WATCHED = {"node": ("create", "update", "remove"), "service": ("create", "update", "remove")}


def relevant(event: dict[str, Any]) -> bool:
    """Node changes (labels, availability, join/leave) and service changes (ours or not)."""
    kind, action = event.get("Type"), event.get("Action")
    return kind in WATCHED and action in WATCHED[kind]


class EventWatcher:
    """Sets `wake` on every relevant event until the stream fails (then `alive` is False)."""

    def __init__(self, api: docker.APIClient, wake: threading.Event) -> None:
        self.api, self.wake = api, wake
        self.thread = threading.Thread(target=self._run, name="swarm-events", daemon=True)

    def start(self) -> EventWatcher:
        self.thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def _run(self) -> None:
        try:
            stream = self.api.events(filters={"type": list(WATCHED)}, decode=True)
            for event in stream:
                if relevant(event):
                    self.wake.set()
        except (docker.errors.DockerException, OSError, ValueError):
            return

"""TUI tests run in UTC so the HH:MM:SS shown (and the SVG snapshots) do not depend on the host."""

from __future__ import annotations

import os
import time

os.environ["TZ"] = "UTC"
time.tzset()

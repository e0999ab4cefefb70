"""Find the Debian mirror apt is configured with (debootstrap needs one URL)."""

from __future__ import annotations

import os
from pathlib import Path

from swarmvip_lab.recipes import SUITE

DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEB822 = Path("/etc/apt/sources.list.d/debian.sources")
ONE_LINE = Path("/etc/apt/sources.list")


def mirror_from_deb822(text: str, suite: str = SUITE) -> str | None:
    """The first URI of a deb822 stanza whose Suites include `suite` itself."""
    for stanza in text.split("\n\n"):
        fields = _fields(stanza)
        if suite in fields.get("suites", "").split() and "deb" in fields.get("types", "deb"):
            uris = fields.get("uris", "").split()
            if uris:
                return uris[0]
    return None


def _fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in stanza.splitlines():
        if line.startswith("#") or ":" not in line or line[:1].isspace():
            continue
        key, _, value = line.partition(":")
        fields[key.strip().lower()] = value.strip()
    return fields


def mirror_from_list(text: str, suite: str = SUITE) -> str | None:
    """The URL of the first one-line `deb URL SUITE ...` entry."""
    for line in text.splitlines():
        words = [w for w in line.split() if not w.startswith("[")]
        if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
            return words[1]
    return None


def find_mirror() -> str:
    """$SWARMVIP_DEBIAN_MIRROR, else apt's configured mirror, else deb.debian.org."""
    env = os.environ.get("SWARMVIP_DEBIAN_MIRROR")
    if env:
        return env
    for path, parse in ((DEB822, mirror_from_deb822), (ONE_LINE, mirror_from_list)):
        if path.is_file():
            found = parse(path.read_text())
            if found:
                return found
    return DEFAULT_MIRROR

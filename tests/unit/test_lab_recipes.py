"""Image recipes (content-hash labels), mirror discovery and the NIC-rename script."""

from __future__ import annotations

import dataclasses

from swarmvip_lab.clients import rename_script
from swarmvip_lab.mirror import mirror_from_deb822, mirror_from_list
from swarmvip_lab.recipes import BASE, NODE, RECIPE_LABEL

DEB822 = """Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_digest_is_stable_and_changes_with_the_recipe() -> None:
    assert BASE.digest() == BASE.digest()
    assert BASE.digest() != NODE.digest()
    changed = dataclasses.replace(BASE, packages=(*BASE.packages, "tini"))
    assert changed.digest() != BASE.digest()


def test_import_changes_set_path_and_label() -> None:
    changes = NODE.import_changes()
    assert changes[0].startswith("ENV PATH=/usr/local/sbin:")
    assert changes[-1] == f"LABEL {RECIPE_LABEL}={NODE.digest()}"
    assert any(c.startswith("ENTRYPOINT") for c in changes)


def test_node_entrypoint_runs_dockerd_offline_with_two_sockets() -> None:
    script = NODE.files[0].content
    assert "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1" in script
    assert "-H unix:///var/run/docker.sock" in script and "-G root" in script
    assert "ip route del default" in script
    assert "remount,rw,bind" in script


def test_mirror_from_deb822_takes_the_main_suite() -> None:
    assert mirror_from_deb822(DEB822) == "http://mirror.example/debian"
    assert mirror_from_deb822(DEB822, "trixie") is None


def test_mirror_from_one_line_list() -> None:
    text = "# c\ndeb [arch=amd64] http://m.example/debian bookworm main\n"
    assert mirror_from_list(text) == "http://m.example/debian"
    assert mirror_from_list("deb-src http://x bookworm main") is None


def test_rename_script_quotes_and_restores_addresses() -> None:
    script = rename_script("eth0", "p5p1")
    assert "ip link set eth0 name p5p1" in script
    assert 'ip addr replace "$a" dev p5p1' in script
    assert rename_script("a b", "c").count("'a b'") >= 2

"""The task image's build inputs stay in step: README command, Dockerfile, pins, workflow."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from swarmvip_lab.agent_image import BUILD_COMMAND

import swarmvip
from swarmvip.errors import ConfigError
from swarmvip.spec.stackfile import parse_stack

ROOT = Path(__file__).resolve().parents[2]
STACK = """
x-swarmvip:
  vips:
    web:
      addresses: [192.0.2.10/24]
"""


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements-image.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            pins[name.strip().lower()] = pinned.strip()
    return pins


def test_the_lab_builds_with_the_readme_command_verbatim() -> None:
    assert f"```sh\n{BUILD_COMMAND}\n```" in (ROOT / "README.md").read_text()


def test_the_readme_shows_the_plain_build_of_the_default_image() -> None:
    assert f"docker build -t {swarmvip.DEFAULT_IMAGE} ." in (ROOT / "README.md").read_text()


def test_the_default_image_is_under_the_project_registry_path_and_version() -> None:
    assert f"ghcr.io/swarmvip/swarmvip-agent:{swarmvip.__version__}" == swarmvip.DEFAULT_IMAGE
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == swarmvip.__version__


def test_image_pins_sit_inside_the_package_ranges() -> None:
    pins = _pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    ranged = {Requirement(r).name.lower(): Requirement(r) for r in project["dependencies"]}
    for name in ("pyroute2", "docker", "jinja2", "pyyaml"):
        assert ranged[name].specifier.contains(pins[name]), (name, pins[name])
    assert "textual" not in pins and "paramiko" not in pins  # client-side only


def test_every_pin_is_exact() -> None:
    assert all(re.fullmatch(r"\d+(\.\d+)*(\.post\d+)?", v) for v in _pins().values())


def test_the_dockerfile_builds_wheels_inside_and_needs_nothing_from_the_host() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "AS wheels" in text and "COPY --from=wheels" in text
    assert "build/wheels" not in text
    ignore = (ROOT / ".dockerignore").read_text()
    assert "!requirements-image.txt" in ignore and "!swarmvip/" in ignore


def test_the_release_workflow_builds_both_arches_from_this_dockerfile() -> None:
    flow = yaml.safe_load((ROOT / ".github/workflows/release.yml").read_text())
    steps = [s for job in flow["jobs"].values() for s in job["steps"]]
    push = next(s for s in steps if s.get("uses", "").startswith("docker/build-push-action"))
    assert push["with"]["file"] == "./Dockerfile"
    assert set(push["with"]["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert push["with"]["tags"].startswith(swarmvip.IMAGE_REPOSITORY + ":")
    assert any("python -m build" in s.get("run", "") for s in steps)


def test_swarmvip_image_names_the_default_where_the_file_has_none() -> None:
    spec = parse_stack(STACK, "s.yml", environ={"SWARMVIP_IMAGE": "registry.example/sv:1"})
    assert spec.image == "registry.example/sv:1"
    assert parse_stack(STACK, "s.yml", environ={}).image == swarmvip.DEFAULT_IMAGE


def test_the_file_image_wins_over_swarmvip_image() -> None:
    text = STACK.replace("x-swarmvip:\n", "x-swarmvip:\n  image: mine/sv:2\n")
    assert parse_stack(text, "s.yml", environ={"SWARMVIP_IMAGE": "other:1"}).image == "mine/sv:2"


def test_a_bad_swarmvip_image_is_a_clear_error() -> None:
    try:
        parse_stack(STACK, "s.yml", environ={"SWARMVIP_IMAGE": "bad image\nvrrp"})
    except ConfigError as exc:
        assert "SWARMVIP_IMAGE" in str(exc)
    else:
        raise AssertionError("a bad SWARMVIP_IMAGE was accepted")

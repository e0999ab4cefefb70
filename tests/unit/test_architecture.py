"""The architecture, made executable: import contracts and a lean CLI start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_help_loads_neither_textual_nor_docker() -> None:
    code = "from swarmvip.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    loaded = _loaded_after(code)
    assert not {m for m in loaded if m.split(".")[0] in ("textual", "docker", "jinja2", "yaml")}


def test_agent_imports_only_what_the_image_ships() -> None:
    loaded = _loaded_after("import swarmvip.agent.cli, swarmvip.agent.run")
    heavy = {m.split(".")[0] for m in loaded} & {"textual", "docker", "jinja2", "yaml", "requests"}
    assert heavy == set()


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_layers_contract_names_every_package_and_the_root_holds_a_handful() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    named = {m.strip() for layer in layers for m in layer.split("|")}
    package = ROOT / "swarmvip"
    found = {
        f"swarmvip.{p.stem if p.is_file() else p.name}"
        for p in package.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    assert found - named == set()  # a new module or wing must take its place in the layers
    assert {"swarmvip_tui", "swarmvip_lab"} <= named
    modules_at_root = {m for m in found if (package / f"{m.split('.')[1]}.py").exists()}
    assert len(modules_at_root) <= 6, modules_at_root


def test_the_cli_works_where_the_lab_is_not_installed() -> None:
    """The image and a wheel install carry no swarmvip_lab: `swarmvip agent` must start."""
    code = (
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'swarmvip_lab':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "from swarmvip.cli import build_parser\n"
        "names = build_parser()._subparsers._group_actions[0].choices\n"
        "assert 'agent' in names and 'lab' not in names, sorted(names)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr

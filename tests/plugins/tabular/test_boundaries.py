"""The plugin's seams: its web half loads no heavy library, it imports nothing of the engine but
``live_progress``'s public names, and it is found through its entry point."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import live_progress
import live_progress_tabular
from live_progress.plugins import load_plugins

PACKAGE = Path(live_progress_tabular.__file__).parent
HEAVY = ("sklearn", "numpy", "joblib", "scipy")


def test_the_web_half_imports_no_heavy_library() -> None:
    # A fresh interpreter that does what the web process does: load the plugin through its
    # entry point and build the app with it (no Redis needed until the lifespan runs).
    probe = "\n".join(
        [
            "import sys",
            "from live_progress.plugins import load_plugins",
            "from live_progress.web.app import create_app",
            "from live_progress.web.settings import Settings",
            "create_app(Settings(), plugins=load_plugins(['tabular']))",
            "print('\\n'.join(sys.modules))",
        ]
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()

    assert "live_progress_tabular.web" in loaded
    assert [name for name in loaded if name.split(".")[0] in HEAVY] == []


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def test_it_imports_only_the_public_names_of_live_progress() -> None:
    engine = {
        name for path in PACKAGE.rglob("*.py") for name in imports_of(path) if name.split(".")[0] == "live_progress"
    }

    assert engine, "the plugin should be built on live_progress"
    assert {name.removeprefix("live_progress.") for name in engine} <= set(live_progress.__all__), engine


def test_the_entry_point_names_the_plugin_and_its_worker_half() -> None:
    (plugin,) = load_plugins(["tabular"])

    assert plugin is live_progress_tabular.plugin
    assert plugin.worker == "live_progress_tabular.worker.tasks:register"
    assert [endpoint.name for endpoint in plugin.endpoints] == ["train"]

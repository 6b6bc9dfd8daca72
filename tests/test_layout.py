"""The house's walls: plugins import only the public surface, the engine imports no plugin,
and the web never imports a plugin's heavy libraries."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import live_progress

PACKAGE = Path(live_progress.__file__).parent
ROOT = PACKAGE.parent
PLUGIN_PACKAGES = {
    "live_progress.plugins.audio": PACKAGE / "plugins" / "audio",
    "live_progress_tabular": ROOT / "plugins" / "tabular" / "live_progress_tabular",
}


def imports(folder: Path) -> list[tuple[Path, str]]:
    """Each module every file under ``folder`` imports (at any depth in the file)."""
    return [(path, module) for path in sorted(folder.rglob("*.py")) for module in imported_by(path)]


def imported_by(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("package", sorted(PLUGIN_PACKAGES))
def test_a_plugin_imports_only_the_public_surface_of_the_engine(package: str) -> None:
    folder = PLUGIN_PACKAGES[package]
    if not folder.is_dir():
        pytest.fail(f"{folder} is missing")
    private = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports(folder)
        if module.startswith("live_progress") and module != "live_progress" and not module.startswith(package)
    ]
    assert not private, private


def test_the_engine_imports_no_plugin() -> None:
    engine = [path for path in PACKAGE.rglob("*.py") if "plugins" not in path.relative_to(PACKAGE).parts[:1]]
    found = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in engine
        for module in imported_by(path)
        if module.startswith(("live_progress.plugins.", "live_progress_"))
    ]
    assert not found, found


def test_the_web_loads_every_plugin_without_its_heavy_libraries() -> None:
    heavy = ["faster_whisper", "ctranslate2", "av", "sklearn", "numpy", "joblib", "scipy"]
    code = (
        "import sys\n"
        "from live_progress.plugins import load_plugins\n"
        "from live_progress.web.app import create_app\n"
        "from live_progress.web.settings import Settings\n"
        "create_app(Settings())\n"
        "assert len(load_plugins()) >= 1\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"

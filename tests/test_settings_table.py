"""The settings table (docs/settings.md) against the settings models and the Procfile.

Every variable the models read (and every ``${NAME:-default}`` of the Procfile) is documented,
every documented variable is read by something, and where the table gives a default as a
literal (``86400``) it is the model's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from live_progress.launch.settings import LaunchSettings
from live_progress.plugins.audio.settings import AudioSettings
from live_progress.settings import EnvSettings, variable_name
from live_progress.web.settings import Settings
from live_progress.worker.settings import WorkerSettings
from tests.conftest import ROOT

MODELS: list[type[EnvSettings]] = [Settings, WorkerSettings, LaunchSettings, AudioSettings]
# Read by no model: the table explains them in words (XDG_DATA_HOME is the XDG spec's own).
NOT_TABLED = {"XDG_DATA_HOME"}


def table_rows() -> dict[str, str]:
    """Each documented variable with its default cell, from the table in docs/settings.md."""
    rows: dict[str, str] = {}
    for line in (ROOT / "docs" / "settings.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0])
        # "`15`, `2000`" gives each name its own default; otherwise the cell is shared.
        values = [value.strip() for value in cells[1].split(",")]
        for index, name in enumerate(names):
            rows[name] = values[index] if len(values) == len(names) else cells[1]
    return rows


def model_defaults() -> dict[str, object]:
    found: dict[str, object] = {}
    for model in MODELS:
        for name, field in model.model_fields.items():
            found[variable_name(name, field.validation_alias)] = field.get_default(call_default_factory=True)
    procfile = (ROOT / "Procfile").read_text()
    found.update(re.findall(r"\$\{([A-Z_]+):-([^}]*)\}", procfile))
    return found


def written(value: object) -> str | None:
    """How the table writes a default as a literal; None when it has no literal form."""
    if isinstance(value, bool) or value is None or value == ():
        return None
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple) and all(isinstance(part, int) for part in value):
        return ",".join(str(part) for part in value)
    if isinstance(value, Path):
        return str(value).replace(str(Path.home()), "~", 1)
    if isinstance(value, (int, str)):
        return str(value)
    return None


def test_every_variable_read_is_documented() -> None:
    missing = set(model_defaults()) - set(table_rows()) - NOT_TABLED

    assert not missing, f"add these to the table in docs/settings.md: {sorted(missing)}"


def test_every_documented_variable_is_read() -> None:
    unknown = set(table_rows()) - set(model_defaults())

    assert not unknown, f"docs/settings.md documents variables nothing reads: {sorted(unknown)}"


@pytest.mark.parametrize("name", sorted(set(table_rows()) & set(model_defaults())))
def test_documented_default_is_the_models(name: str) -> None:
    cell, default = table_rows()[name], model_defaults()[name]
    literal = re.fullmatch(r"`([^`]*)`", cell)
    expected = written(default)

    if literal and not literal.group(1).isupper():
        assert literal.group(1) == expected, f"{name}: the table says {cell}, the model {default!r}"
    else:
        # Said in words ("unset", "your home folder", "`REDIS_URL`"): no literal to disagree with.
        assert expected is None or name in {"ALLOWED_ROOTS", "ALLOWED_HOSTS", "HOST"} or cell.startswith("`$"), (
            f"{name}: the table describes {cell}; write the model's default {expected!r}"
        )

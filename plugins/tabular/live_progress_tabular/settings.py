"""The tabular plugin's settings, read from the environment once per process."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

from pydantic import Field

from live_progress import PluginSettings

DEFAULT_MODELS_DIR = Path.home() / ".local/share/live-progress/models"


class TabularSettings(PluginSettings):
    # Where a model goes when the CSV's folder cannot be written to (a folder per task).
    tabular_models_dir: Path = DEFAULT_MODELS_DIR
    # How many data rows the web reads to check a file before it queues the job; the worker
    # reads them all and checks again.
    tabular_check_rows: Annotated[int, Field(ge=1)] = 20_000


@functools.cache
def tabular_settings() -> TabularSettings:
    """Read from the environment on first use, once per process."""
    return TabularSettings.load()

"""The worker's settings, read from the environment once per process (see live_progress/settings.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from live_progress.settings import SharedSettings


class WorkerSettings(SharedSettings):
    # Where the worker serves its Prometheus metrics; 0 turns them off.
    metrics_port: Annotated[int, Field(ge=0, le=65_535, validation_alias="WORKER_METRICS_PORT")] = 9808

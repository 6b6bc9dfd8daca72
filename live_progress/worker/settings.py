"""The worker's settings, read from the environment once per process (see live_progress/settings.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from live_progress.cores import available_cpus
from live_progress.settings import SharedSettings


class WorkerSettings(SharedSettings):
    # Where the worker serves its Prometheus metrics; 0 turns them off.
    metrics_port: Annotated[int, Field(ge=0, le=65_535, validation_alias="WORKER_METRICS_PORT")] = 9808
    # The worker's pool processes (the Procfile passes it to Celery's --concurrency); "auto":
    # one per CPU this process may use (live_progress/cores.py).
    worker_concurrency: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"

    @property
    def processes(self) -> int:
        """``worker_concurrency``, "auto" resolved."""
        return available_cpus() if self.worker_concurrency == "auto" else self.worker_concurrency

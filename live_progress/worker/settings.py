"""The worker's settings, read from the environment once per process (see live_progress/settings.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from live_progress.settings import Seconds, SharedSettings

DEFAULT_TRANSCRIPTS_DIR = Path.home() / ".local/share/live-progress/transcripts"


class WorkerSettings(SharedSettings):
    # Progress writes per task are at most one per interval; the latest always lands.
    progress_interval: Annotated[Seconds, Field(ge=0)] = 0.25
    # Where transcripts go when the input folder cannot be written to.
    transcripts_dir: Path = DEFAULT_TRANSCRIPTS_DIR
    # Up to this many worker processes share one batch, file by file; 1 keeps a batch on
    # the worker that took it (splitting pays off only with several workers).
    split_batches: Annotated[int, Field(ge=1)] = 1
    # CTranslate2 threads per model; 0 is its default (4). With several worker processes
    # on one machine, 1 each avoids oversubscribing the cores.
    whisper_cpu_threads: Annotated[int, Field(ge=0)] = 0
    # Where the worker serves its Prometheus metrics; 0 turns them off.
    metrics_port: Annotated[int, Field(ge=0, le=65_535, validation_alias="WORKER_METRICS_PORT")] = 9808

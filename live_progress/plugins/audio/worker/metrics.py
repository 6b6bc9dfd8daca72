"""The audio plugin's worker metrics: seconds of audio transcribed and the real-time factor.

They join the worker's own (live_progress/worker/metrics.py) when those are served: the
engine's multiprocess folder is then set, and each pool process writes its figures there.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

from live_progress.plugins.audio.shared import TRANSCRIBE_TASK

_RTF_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5)


def audio_seconds(result: Any) -> float:
    """Seconds of audio behind a transcription result (its files that were transcribed)."""
    from live_progress.plugins.audio.worker.transcription import probe_duration

    if not isinstance(result, dict):
        return 0.0
    texts = result.get("texts") or []
    return sum(probe_duration(Path(t["title"])) for t in texts if t.get("subtitle") != "error" and t.get("title"))


def install_audio_metrics(celery: Celery) -> None:
    started: dict[str, float] = {}
    metrics: dict[str, Any] = {}

    def ours(sender: Any) -> bool:
        return sender is not None and sender.app is celery and sender.name == TRANSCRIBE_TASK

    def on_prerun(sender: Any = None, task_id: str | None = None, **_: Any) -> None:
        if task_id and ours(sender):
            started[task_id] = time.monotonic()

    def on_postrun(
        sender: Any = None, task_id: str | None = None, retval: Any = None, state: str | None = None, **_: Any
    ) -> None:
        if not task_id or not ours(sender):
            return
        took = time.monotonic() - started.pop(task_id, time.monotonic())
        # prometheus_client's multiprocess mode: on only when the worker serves its metrics.
        if state != "SUCCESS" or not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return
        if not metrics:
            from prometheus_client import Counter, Histogram

            metrics["transcribed"] = Counter("live_progress_worker_audio_seconds", "Seconds of audio transcribed")
            metrics["real_time"] = Histogram(
                "live_progress_worker_real_time_factor",
                "Seconds of work per second of audio, per batch",
                buckets=_RTF_BUCKETS,
            )
        seconds = audio_seconds(retval)
        if seconds > 0:
            metrics["transcribed"].inc(seconds)
            metrics["real_time"].observe(took / seconds)

    task_prerun.connect(on_prerun, weak=False, dispatch_uid=f"audio-metrics-prerun-{id(celery)}")
    task_postrun.connect(on_postrun, weak=False, dispatch_uid=f"audio-metrics-postrun-{id(celery)}")

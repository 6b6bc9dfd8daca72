"""The Celery tasks: thin wrappers that wire progress reporting to plain functions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery, Task

from contract import PROGRESS_STATE, TRANSCRIBE_TASK
from worker.model import load_model
from worker.progress import Meta, ThrottledReporter
from worker.settings import WorkerSettings
from worker.transcription import transcribe_folder


def register_tasks(celery: Celery, settings: WorkerSettings) -> None:
    @celery.task(name=TRANSCRIBE_TASK, bind=True)
    def transcribe(self: Task, input_dir: str) -> dict[str, Any]:
        task_id = self.request.id

        def write(meta: Meta) -> None:
            # Called from the reporter's thread, where self.request is not this task's.
            self.update_state(task_id=task_id, state=PROGRESS_STATE, meta=meta)

        with ThrottledReporter(write, settings.progress_interval) as reporter:
            return transcribe_folder(
                Path(input_dir),
                lambda: load_model(settings.whisper_model),
                reporter.report,
                transcripts_fallback=settings.transcripts_dir / task_id,
            )

"""The Celery tasks: thin wrappers that wire progress reporting to plain functions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery, Task

from contract import INSPECT_TASK, PROGRESS_STATE, TRANSCRIBE_TASK
from worker.inspection import inspect_folder
from worker.model import load_model
from worker.progress import Meta, ThrottledReporter
from worker.settings import WorkerSettings
from worker.transcription import transcribe_folder


def progress_reporter(task: Task, settings: WorkerSettings) -> ThrottledReporter:
    """A throttled writer of this task's PROGRESS states."""
    task_id = task.request.id

    def write(meta: Meta) -> None:
        # Called from the reporter's thread, where task.request is not this task's.
        task.update_state(task_id=task_id, state=PROGRESS_STATE, meta=meta)

    return ThrottledReporter(write, settings.progress_interval)


def register_tasks(celery: Celery, settings: WorkerSettings) -> None:
    @celery.task(name=TRANSCRIBE_TASK, bind=True)
    def transcribe(self: Task, input_dir: str) -> dict[str, Any]:
        with progress_reporter(self, settings) as reporter:
            return transcribe_folder(
                Path(input_dir),
                lambda: load_model(settings.whisper_model),
                reporter.report,
                transcripts_fallback=settings.transcripts_dir / self.request.id,
            )

    @celery.task(name=INSPECT_TASK, bind=True)
    def inspect(self: Task, input_dir: str) -> dict[str, Any]:
        with progress_reporter(self, settings) as reporter:
            return inspect_folder(Path(input_dir), reporter.report)

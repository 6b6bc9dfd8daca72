"""The Celery tasks: thin wrappers that wire progress reporting to plain functions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from celery import Celery, Task
from celery.exceptions import Ignore

from live_progress.contract import INSPECT_TASK, PROGRESS_STATE, TRANSCRIBE_TASK, WAITING_STATE
from live_progress.plugins.audio.worker.checkpoint import Checkpoint, CheckpointStore, Handover
from live_progress.plugins.audio.worker.inspection import inspect_folder
from live_progress.plugins.audio.worker.model import load_model
from live_progress.plugins.audio.worker.options import TranscribeOptions
from live_progress.worker.progress import Meta, ThrottledReporter
from live_progress.plugins.audio.worker.segments import SegmentLog
from live_progress.worker.settings import WorkerSettings
from live_progress.plugins.audio.worker.shared_batch import SharedBatch
from live_progress.plugins.audio.worker.split import lead_batch, work_on
from live_progress.plugins.audio.worker.transcription import OnSegment, SegmentSource, transcribe_folder, whisper_segments

logger = logging.getLogger(__name__)

# Sent by the worker itself (a split batch's leader), never by the web.
HELP_TASK = "audio.transcribe.help"


def state_writer(task: Task) -> Callable[[Meta], None]:
    """Writes this task's PROGRESS states (from any thread)."""
    task_id = task.request.id

    def write(meta: Meta) -> None:
        # Called from a writer thread, where task.request is not this task's.
        task.update_state(task_id=task_id, state=PROGRESS_STATE, meta=meta)

    return write


def progress_reporter(task: Task, settings: WorkerSettings) -> ThrottledReporter:
    """A throttled writer of this task's PROGRESS states."""
    return ThrottledReporter(state_writer(task), settings.progress_interval)


def hand_on(task: Task, checkpoints: CheckpointStore, checkpoint: Checkpoint) -> NoReturn:
    """Leave the batch for the next worker: where it stands, a state that keeps its percent
    (WAITING: nobody owes it a heartbeat), and the task queued again under its id."""
    task_id = task.request.id
    checkpoints.save(task_id, checkpoint)
    task.update_state(task_id=task_id, state=WAITING_STATE, meta=checkpoint.waiting_meta())
    task.apply_async(args=task.request.args, kwargs=task.request.kwargs, task_id=task_id, add_to_parent=False)
    partial = checkpoint.partial
    where = f", {partial.seconds:.2f} s into file {partial.index + 1}" if partial is not None else ""
    logger.info(
        "Handed %s on at %d%%%s: the worker is stopping", task_id, checkpoint.percent, where, extra={"task_id": task_id}
    )
    # Nothing more is stored for this run: the state stays the one just written.
    raise Ignore()


def register_tasks(celery: Celery, settings: WorkerSettings, stopping: Callable[[], bool]) -> None:
    def segments(options: TranscribeOptions) -> Callable[[], SegmentSource]:
        return lambda: whisper_segments(load_model(settings.whisper_model, settings.whisper_cpu_threads), options)

    def shared_batch(batch_id: str) -> SharedBatch:
        backend = celery.backend
        log = SegmentLog(backend.client, batch_id, settings.result_expires)
        return SharedBatch(backend.client, batch_id, backend.get_key_for_task(batch_id), settings.result_expires, log)

    @celery.task(name=TRANSCRIBE_TASK, bind=True)
    def transcribe(self: Task, input_dir: str, **parameters: Any) -> dict[str, Any]:
        """``parameters``: the request's (live_progress/plugins/audio/parameters.py), only those not left at their default."""
        task_id = self.request.id
        options = TranscribeOptions.of(**parameters)
        checkpoints = CheckpointStore(celery.backend.client, settings.result_expires)
        resume = checkpoints.load(task_id)
        if resume is not None:
            logger.info("Resuming %s at %d%%", task_id, resume.percent, extra={"task_id": task_id})
        try:
            log = SegmentLog(celery.backend.client, task_id, settings.result_expires)
            result = run_batch(self, Path(input_dir), resume, options, log.publish)
        except Handover as handover:
            hand_on(self, checkpoints, handover.checkpoint)
        if resume is not None:
            checkpoints.delete(task_id)
        return result

    def run_batch(
        task: Task, folder: Path, resume: Checkpoint | None, options: TranscribeOptions, on_segment: OnSegment
    ) -> dict[str, Any]:
        task_id = task.request.id
        fallback = settings.transcripts_dir / task_id
        if settings.split_batches > 1:
            return lead_batch(
                folder,
                shared_batch(task_id),
                helpers=settings.split_batches - 1,
                send_helper=lambda helper_id: help_transcribe.apply_async(
                    kwargs={"batch_id": task_id, **options.task_kwargs()}, task_id=helper_id, add_to_parent=False
                ),
                load_segments=segments(options),
                write_state=state_writer(task),
                interval=settings.progress_interval,
                transcripts_fallback=fallback,
                resume=resume,
                stopping=stopping,
                formats=options.formats,
            )
        # Closed (pending progress written) before any handover writes its state.
        with progress_reporter(task, settings) as reporter:
            return transcribe_folder(
                folder,
                lambda: load_model(settings.whisper_model, settings.whisper_cpu_threads),
                reporter.report,
                transcripts_fallback=fallback,
                resume=resume,
                stopping=stopping,
                options=options,
                on_segment=on_segment,
            )

    @celery.task(name=HELP_TASK, bind=True)
    def help_transcribe(self: Task, batch_id: str, **parameters: Any) -> int:
        """Transcribe units of a split batch until none is left (or the worker stops); returns how many."""
        load = segments(TranscribeOptions.of(**parameters))
        return work_on(shared_batch(batch_id), self.request.id, load, settings.progress_interval, stopping)

    @celery.task(name=INSPECT_TASK, bind=True)
    def inspect(self: Task, input_dir: str) -> dict[str, Any]:
        with progress_reporter(self, settings) as reporter:
            return inspect_folder(Path(input_dir), reporter.report)

"""The Celery tasks: thin wrappers that wire progress reporting to plain functions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from celery import Celery, Task
from celery.signals import worker_ready

from live_progress import Job, available_cpus, worker_processes
from live_progress.plugins.audio.settings import AudioSettings
from live_progress.plugins.audio.shared import HELP_TASK, INSPECT_TASK, TRANSCRIBE_TASK
from live_progress.plugins.audio.worker.checkpoint import Checkpoint, Handover
from live_progress.plugins.audio.worker.device import Placement, install_placement
from live_progress.plugins.audio.worker.inspection import inspect_folder
from live_progress.plugins.audio.worker.metrics import install_audio_metrics
from live_progress.plugins.audio.worker.model import load_model
from live_progress.plugins.audio.worker.options import TranscribeOptions
from live_progress.plugins.audio.worker.pieces import load_vad
from live_progress.plugins.audio.worker.progress import Meta, ThrottledReporter
from live_progress.plugins.audio.worker.segments import SegmentLog
from live_progress.plugins.audio.worker.shared_batch import SharedBatch, claimer_of
from live_progress.plugins.audio.worker.split import lead_batch, work_on
from live_progress.plugins.audio.worker.transcription import SegmentSource, transcribe_folder, whisper_segments

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

logger = logging.getLogger(__name__)


def state_writer(task: Task) -> Callable[[Meta], None]:
    """Writes this task's PROGRESS states (from any thread)."""
    task_id = task.request.id

    def write(meta: Meta) -> None:
        # Called from a writer thread, where task.request is not this task's.
        task.update_state(task_id=task_id, state="PROGRESS", meta=meta)

    return write


def progress_reporter(task: Task, settings: AudioSettings) -> ThrottledReporter:
    """A throttled writer of this task's PROGRESS states."""
    return ThrottledReporter(state_writer(task), settings.progress_interval)


def hand_on(job: Job, checkpoint: Checkpoint) -> NoReturn:
    """Leave the batch for the next worker where it stands (raises Celery's Ignore)."""
    partial = checkpoint.partial
    where = f", {partial.seconds:.2f} s into file {partial.index + 1}" if partial is not None else ""
    logger.info("Handing %s on%s", job.id, where, extra={"task_id": job.id})
    meta = checkpoint.waiting_meta()
    extra = {key: value for key, value in meta.items() if key not in ("percent", "description")}
    job.hand_over(checkpoint.to_fields(), meta["percent"], meta["description"], **extra)


def register(celery: Celery) -> None:
    """The audio plugin's worker half (``Plugin.worker``): its tasks on ``celery``."""
    settings = AudioSettings.load()
    register_tasks(celery, settings, install_placement(celery, settings))
    install_audio_metrics(celery)

    def say_how_the_cores_are_used(sender: Any = None, **_: Any) -> None:
        if sender is None or sender.app is celery:
            processes, threads = worker_processes(), settings.cpu_threads
            logger.info(
                "Audio: %s on %d CPUs, %d CTranslate2 thread%s each; a batch shared by up to %d of them",
                "1 pool process" if processes == 1 else f"{processes} pool processes",
                available_cpus(),
                threads,
                "" if threads == 1 else "s",
                settings.batch_workers,
            )

    # Once the worker logs (at import, before Celery sets its logging up, it would be lost).
    worker_ready.connect(say_how_the_cores_are_used, weak=False, dispatch_uid=f"audio-cores-{id(celery)}")


def register_tasks(celery: Celery, settings: AudioSettings, placement: Callable[[], Placement]) -> None:
    # shared=False: these are this app's tasks, not added to every app the process makes later.
    def model() -> WhisperModel:
        where = placement()
        return load_model(settings.whisper_model, where.cpu_threads, where.device, where.compute_type)

    def segments(options: TranscribeOptions) -> Callable[[], SegmentSource]:
        def load() -> SegmentSource:
            if settings.batch_workers > 1:
                load_vad()  # for the next long file this worker leads: its pieces are cut at pauses
            return whisper_segments(model(), options)

        return load

    def shared_batch(task: Task, batch_id: str) -> SharedBatch:
        job = Job(task, batch_id)
        backend = celery.backend
        return SharedBatch(backend.client, batch_id, backend.get_key_for_task(batch_id), job.ttl, SegmentLog(job))

    @celery.task(name=TRANSCRIBE_TASK, bind=True, shared=False)
    def transcribe(self: Task, input_dir: str, **parameters: Any) -> dict[str, Any]:
        """``parameters``: the request's (plugins/audio/parameters.py), only those not left at their default."""
        job = Job(self)
        options = TranscribeOptions.of(**parameters)
        saved = job.load_checkpoint()
        resume = None if saved is None else Checkpoint.from_fields(saved)
        if resume is not None:
            partial = resume.partial
            where = f", {partial.seconds:.2f} s into file {partial.index + 1}" if partial is not None else ""
            logger.info(
                "Resuming %s at %d%%: %d of %d files done%s",
                job.id,
                resume.percent,
                len(resume.done),
                len(resume.paths),
                where,
                extra={"task_id": job.id},
            )
        try:
            # The checkpoint goes with the task's final state (live_progress/worker/attempts.py).
            return run_batch(self, job, Path(input_dir), resume, options)
        except Handover as handover:
            hand_on(job, handover.checkpoint)

    def run_batch(
        task: Task, job: Job, folder: Path, resume: Checkpoint | None, options: TranscribeOptions
    ) -> dict[str, Any]:
        task_id = job.id
        fallback = settings.transcripts_dir / task_id
        if (workers := settings.batch_workers) > 1:
            return lead_batch(
                folder,
                shared_batch(task, task_id),
                helpers=workers - 1,
                send_helper=lambda helper_id: help_transcribe.apply_async(
                    kwargs={"batch_id": task_id, **options.task_kwargs()}, task_id=helper_id, add_to_parent=False
                ),
                load_segments=segments(options),
                write_state=state_writer(task),
                interval=settings.progress_interval,
                transcripts_fallback=fallback,
                resume=resume,
                stopping=job.stop_requested,
                formats=options.formats,
                execution=job.execution(),
                working_on=job.working_on,
                attempts=job.max_attempts,
            )
        # Closed (pending progress written) before any handover writes its state.
        with progress_reporter(task, settings) as reporter:
            return transcribe_folder(
                folder,
                model,
                reporter.report,
                transcripts_fallback=fallback,
                resume=resume,
                stopping=job.stop_requested,
                journal=SegmentLog(job),
                options=options,
            )

    @celery.task(name=HELP_TASK, bind=True, shared=False)
    def help_transcribe(self: Task, batch_id: str, **parameters: Any) -> int:
        """Transcribe units of a split batch until none is left (or the worker stops); returns how many."""
        load = segments(TranscribeOptions.of(**parameters))
        job = Job(self, batch_id)
        claimer = claimer_of(self.request.id, job.execution())
        return work_on(
            shared_batch(self, batch_id), claimer, load, settings.progress_interval, job.stop_requested, job.working_on
        )

    @celery.task(name=INSPECT_TASK, bind=True, shared=False)
    def inspect(self: Task, input_dir: str) -> dict[str, Any]:
        with progress_reporter(self, settings) as reporter:
            return inspect_folder(Path(input_dir), reporter.report)

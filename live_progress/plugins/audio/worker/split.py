"""A batch split over several workers: the task that took it leads, helper tasks join in.

Every participant claims units from the batch's list in Redis until none is left: whole
files, and pieces of long files (live_progress/plugins/audio/worker/pieces.py), so a helper that starts late (or never)
only means the others do more, and one long file is transcribed by several workers at once.
The leader transcribes too, then waits for the units its helpers still have, takes back
those whose worker died, and returns the batch's result. It alone writes the batch's state,
so the percent cannot go back, its heartbeat is the batch's, and nothing but it can
overwrite a cancelled batch.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from live_progress.plugins.audio.worker.checkpoint import Checkpoint, Handover, Partial, StopRequested
from live_progress.plugins.audio.worker.pieces import Unit, plan_units
from live_progress.plugins.audio.worker.progress import Meta, SplitProgress, ThrottledReporter
from live_progress.plugins.audio.worker.shared_batch import SharedBatch, claimer_of
from live_progress.plugins.audio.worker.transcription import (
    SegmentSource,
    batch_response,
    never,
    prepare_batch,
    probe_duration,
    transcribe_file,
)

logger = logging.getLogger(__name__)

# The leader reads the batch's progress at least this often, however small PROGRESS_INTERVAL is,
# and looks this often whether its helpers have finished.
_MIN_POLL = 0.05


def lead_batch(
    folder: Path,
    batch: SharedBatch,
    helpers: int,
    send_helper: Callable[[str], None],
    load_segments: Callable[[], SegmentSource],
    write_state: Callable[[Meta], None],
    interval: float,
    transcripts_fallback: Path,
    resume: Checkpoint | None = None,
    stopping: Callable[[], bool] = never,
    formats: Sequence[str] = ("txt",),
    execution: str = "",
    working_on: Callable[[str], None] | None = None,
    attempts: int = 3,
) -> dict[str, Any]:
    """Transcribe ``folder`` with up to ``helpers`` helper tasks; the result is a BatchTextResponse.

    A batch whose units are listed already had a leader before (it stopped and handed the batch
    on, or its worker was lost): its units and what they hold are carried on. When ``stopping()``
    turns true, the leader gives its unit back and raises ``Handover``. ``execution``: the
    leader's (``live_progress.Job.execution``); ``working_on`` is told each unit it takes. A unit
    whose workers died ``attempts`` times (``live_progress.Job.max_attempts``) is given up on: it
    may be what kills them.
    """
    if batch.planned():
        units = batch.units()
        paths = list(resume.paths) if resume is not None else _paths_of(units)
    else:
        paths = prepare_batch(folder, write_state)
        began = time.perf_counter()
        units = plan_units(paths, [probe_duration(path) for path in paths], workers=helpers + 1)
        batch.plan(units)
        logger.info("Planned batch %s: %d units in %.2f s", batch.id, len(units), time.perf_counter() - began)
    progress = SplitProgress([unit.duration for unit in units], files=len(paths))
    if resume is not None:
        progress.reached(resume.percent)
    helper_ids = [str(uuid.uuid4()) for _ in range(min(helpers, len(units) - 1))]
    batch.add_helpers(helper_ids)
    for helper_id in helper_ids:
        send_helper(helper_id)
    poll = max(interval, _MIN_POLL)
    claimer = claimer_of(batch.id, execution)
    with _StateWriter(lambda: progress.at(**_counts(batch)), write_state, poll):
        while not stopping():
            work_on(batch, claimer, load_segments, interval, stopping, working_on)
            if batch.finished():
                break
            if not batch.take_back_lost(attempts, claimer):
                # Waiting for the helpers' last units: the result goes out soon after the last.
                time.sleep(_MIN_POLL)
    if not batch.finished():
        # The units done stay in the batch's lists; the next leader carries on from them.
        raise Handover(Checkpoint(tuple(paths), percent=progress.best))
    transcripts = batch.transcripts(paths, units)
    batch.clean_up(len(units), claimer)
    return batch_response(folder, transcripts, transcripts_fallback, formats)


def _paths_of(units: Sequence[Unit]) -> list[Path]:
    """The batch's files, in order, from its units."""
    paths: dict[int, Path] = {}
    for unit in units:
        paths.setdefault(unit.file, unit.path)
    return [paths[file] for file in sorted(paths)]


def work_on(
    batch: SharedBatch,
    claimer: str,
    load_segments: Callable[[], SegmentSource],
    interval: float,
    stopping: Callable[[], bool] = never,
    working_on: Callable[[str], None] | None = None,
) -> int:
    """Transcribe units of ``batch`` until none is left to claim, or until ``stopping()``
    (the unit begun goes back to the batch, first in line, with how far it got); returns how many.
    A unit taken back from this worker while it was away is left, and the next one claimed."""
    segments_of: SegmentSource | None = None
    count = 0
    with ThrottledReporter(lambda meta: batch.report_seconds(claimer=claimer, **meta), interval) as reporter:
        while not stopping() and (claimed := batch.claim(claimer)) is not None:
            index, unit, begun = claimed
            logger.info("Claimed %s of batch %s", unit.describe(), batch.id)
            if working_on is not None:
                working_on(unit.describe())
            # Loaded only once there is work: a helper that comes too late never loads it.
            segments_of = segments_of or load_segments()
            report = functools.partial(_report_seconds, reporter, index, unit)
            publish = functools.partial(_publish, batch, index, unit, claimer)
            try:
                transcript = transcribe_file(
                    unit.path,
                    segments_of,
                    report,
                    begun,
                    functools.partial(_unit_stopping, stopping, batch, index),
                    publish,
                    unit.start,
                    unit.end,
                    index,
                )
            except StopRequested as stop:
                if batch.lost(index):
                    continue
                where = stop.partial.seconds
                logger.info("Giving %s of batch %s back at %.1f s: stopping", unit.describe(), batch.id, where)
                batch.release(index, stop.partial, claimer)
                break
            batch.finish(index, unit, transcript, claimer)
            if batch.lost(index):
                continue
            if unit.whole:
                logger.info("Transcribed %s, file %d of batch %s", unit.path.name, unit.file + 1, batch.id)
            else:
                logger.info("Transcribed %s of file %d of batch %s", unit.describe(), unit.file + 1, batch.id)
            count += 1
    return count


def _unit_stopping(stopping: Callable[[], bool], batch: SharedBatch, index: int) -> bool:
    return stopping() or batch.lost(index)


def _report_seconds(reporter: ThrottledReporter, index: int, unit: Unit, seconds: float) -> None:
    # ``seconds`` into the file: what counts is how far into the unit.
    reporter.report({"index": index, "seconds": seconds - unit.start})


def _publish(batch: SharedBatch, index: int, unit: Unit, claimer: str, path: Path, segment: Any, at: Partial) -> None:
    batch.publish(index, unit, segment, claimer, at)


def _counts(batch: SharedBatch) -> dict[str, Any]:
    snapshot = batch.snapshot()
    return {"seconds": snapshot.seconds, "done": snapshot.done, "running": len(snapshot.running)}


class _StateWriter:
    """Every ``interval``, reads the batch's progress and writes it if it changed."""

    def __init__(self, read: Callable[[], Meta], write: Callable[[Meta], None], interval: float) -> None:
        self._read = read
        self._write = write
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batch-state", daemon=True)

    def __enter__(self) -> _StateWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Stopped before the task returns: no progress can land after its result.
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        last: Meta | None = None
        while not self._stop.wait(self._interval):
            try:
                meta = self._read()
                if meta != last:
                    self._write(meta)
                    last = meta
            except Exception:
                # Progress is advisory: a failed read or write must not sink the batch.
                logger.exception("Could not write the batch's progress")

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
from live_progress.plugins.audio.worker.shared_batch import SharedBatch
from live_progress.plugins.audio.worker.transcription import (
    SegmentSource,
    batch_response,
    never,
    prepare_batch,
    probe_duration,
    transcribe_file,
)

logger = logging.getLogger(__name__)

# A unit is claimed again after its worker died, but not a third time: it may be what kills them.
CLAIM_ATTEMPTS = 2
# The leader reads the batch's progress at least this often, however small PROGRESS_INTERVAL is.
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
) -> dict[str, Any]:
    """Transcribe ``folder`` with up to ``helpers`` helper tasks; the result is a BatchTextResponse.

    ``resume``: a leader that stopped handed the batch on; its units are still listed. When
    ``stopping()`` turns true, the leader gives its unit back and raises ``Handover``.
    """
    if resume is not None and batch.planned():
        paths = list(resume.paths)
        units = batch.units()
    else:
        paths = prepare_batch(folder, write_state)
        units = plan_units(paths, [probe_duration(path) for path in paths], split=helpers > 0)
        batch.plan(units)
    progress = SplitProgress([unit.duration for unit in units], files=len(paths))
    if resume is not None:
        progress.reached(resume.percent)
    helper_ids = [str(uuid.uuid4()) for _ in range(min(helpers, len(units) - 1))]
    batch.add_helpers(helper_ids)
    for helper_id in helper_ids:
        send_helper(helper_id)
    poll = max(interval, _MIN_POLL)
    with _StateWriter(lambda: progress.at(**_counts(batch)), write_state, poll):
        while not stopping():
            work_on(batch, batch.id, load_segments, interval, stopping)
            if batch.finished():
                break
            if not batch.take_back_lost(CLAIM_ATTEMPTS):
                time.sleep(poll)
    if not batch.finished():
        # The units done stay in the batch's lists; the next leader carries on from them.
        raise Handover(Checkpoint(tuple(paths), percent=progress.best))
    transcripts = batch.transcripts(paths, units)
    batch.clean_up(len(units))
    return batch_response(folder, transcripts, transcripts_fallback, formats)


def work_on(
    batch: SharedBatch,
    claimer: str,
    load_segments: Callable[[], SegmentSource],
    interval: float,
    stopping: Callable[[], bool] = never,
) -> int:
    """Transcribe units of ``batch`` until none is left to claim, or until ``stopping()``
    (the unit begun goes back to the batch, first in line, with how far it got); returns how many."""
    segments_of: SegmentSource | None = None
    count = 0
    with ThrottledReporter(lambda meta: batch.report_seconds(**meta), interval) as reporter:
        while not stopping() and (claimed := batch.claim(claimer)) is not None:
            index, unit, begun = claimed
            # Loaded only once there is work: a helper that comes too late never loads it.
            segments_of = segments_of or load_segments()
            report = functools.partial(_report_seconds, reporter, index, unit)
            publish = functools.partial(_publish, batch, index, unit)
            try:
                transcript = transcribe_file(
                    unit.path, segments_of, report, begun, stopping, publish, unit.start, unit.end
                )
            except StopRequested as stop:
                logger.info("Giving %s of batch %s back at %.1f s: stopping", unit.describe(), batch.id, stop.seconds)
                batch.release(index, Partial(index, stop.seconds, tuple(stop.segments)))
                break
            batch.finish(index, unit, transcript)
            if unit.whole:
                logger.info("Transcribed %s, file %d of batch %s", unit.path.name, unit.file + 1, batch.id)
            else:
                logger.info("Transcribed %s of file %d of batch %s", unit.describe(), unit.file + 1, batch.id)
            count += 1
    return count


def _report_seconds(reporter: ThrottledReporter, index: int, unit: Unit, seconds: float) -> None:
    # ``seconds`` into the file: what counts is how far into the unit.
    reporter.report({"index": index, "seconds": seconds - unit.start})


def _publish(batch: SharedBatch, index: int, unit: Unit, path: Path, segment: Any) -> None:
    batch.publish(index, unit, segment)


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

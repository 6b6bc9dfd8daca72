"""Publishing a task's live results: each segment as the model yields it, through the job's
live results (``live_progress.Job.publish``), with the line a client shows for it; and keeping
the batch's checkpoint current beside them (a ``checkpoint.Journal``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from live_progress import Job
from live_progress.plugins.audio.shared import segment_line, segment_root
from live_progress.plugins.audio.worker.transcription import Segment


class SegmentLog:
    def __init__(self, job: Job) -> None:
        self.job = job
        # For a split batch, which publishes its pieces in order from a script of its own.
        self.key = job.live_results_key
        self.cap = job.live_results_cap

    @staticmethod
    def root(file: Path, segment: Segment) -> str:
        """What is published for ``segment`` of ``file``: its event's JSON."""
        root = segment_root(str(file), segment.start, segment.end, segment.text.strip())
        return Job.encode(root, segment_line(root))

    def segment(self, file: Path, segment: Segment, checkpoint: Mapping[str, Any] | None = None) -> None:
        """Publish ``segment`` of ``file``, and save ``checkpoint`` fields in the same step."""
        root = segment_root(str(file), segment.start, segment.end, segment.text.strip())
        self.job.publish(root, segment_line(root), checkpoint=checkpoint)

    def save(self, checkpoint: Mapping[str, Any]) -> None:
        self.job.save_checkpoint(checkpoint)

    def working_on(self, item: str) -> None:
        self.job.working_on(item)

"""A file resumed mid-window with the real model decodes as the undisturbed run did: the same
words, each published once (what a worker killed after any segment leaves to the next one)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from live_progress.plugins.audio.worker.checkpoint import Checkpoint
from live_progress.plugins.audio.worker.model import load_model
from live_progress.plugins.audio.worker.transcription import transcribe_files, whisper_segments
from tests.conftest import DATA

pytestmark = pytest.mark.integration

# The file on which `scripts/bench chaos` found a resumed window losing a sentence.
HARBOUR = DATA / "speech" / "harbour.ogg"


class _Journal:
    """The checkpoint's fields as Redis keeps them, and each segment published."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = dict(fields)
        self.published: list[tuple[float, float, str]] = []
        self.after: list[dict[str, Any]] = []

    def segment(self, path: Path, segment: Any, checkpoint: dict[str, Any]) -> None:
        self.published.append((segment.start, segment.end, segment.text.strip()))
        self.save(checkpoint)
        self.after.append(json.loads(json.dumps(self.fields)))

    def save(self, checkpoint: dict[str, Any]) -> None:
        for name, value in checkpoint.items():
            if value is None:
                self.fields.pop(name, None)
            else:
                self.fields[name] = value

    def working_on(self, item: str) -> None:
        pass


def test_a_file_resumed_after_any_segment_mid_window_comes_out_as_the_undisturbed_run(tmp_path: Path) -> None:
    path = Path(shutil.copy(HARBOUR, tmp_path))
    segments_of = whisper_segments(load_model(cpu_threads=1))
    undisturbed = _Journal({"paths": [str(path)], "percent": 0})
    [whole] = transcribe_files([path], segments_of, lambda meta: None, journal=undisturbed)
    assert len(whole.text.split()) > 100

    # After the first and the second segment of each window but the first: that window decoded
    # again after the model's tokens of all the windows before it. (Where the model ends its
    # windows differs from one CPU to another: a file has two windows on some, three on others.)
    kills = []
    for killed_after, fields in enumerate(undisturbed.after[:-1]):
        partial = Checkpoint.from_fields(fields).partial  # type: ignore[union-attr]
        if partial is not None and partial.seconds > 0 and len(partial.published) in (1, 2):
            kills.append(killed_after)
    assert len(kills) >= 2, kills
    for killed_after in kills:
        fields = undisturbed.after[killed_after]
        resume = Checkpoint.from_fields(fields)
        journal = _Journal(fields)
        [transcript] = transcribe_files([path], segments_of, lambda meta: None, resume, journal=journal)
        assert transcript == whole, f"killed after segment {killed_after}"
        assert undisturbed.published[: killed_after + 1] + journal.published == undisturbed.published

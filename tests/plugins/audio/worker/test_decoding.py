"""One decode of a file per worker process: shared by the pause-finding and the pieces, let go
of when the task ends."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import faster_whisper
import numpy as np
import pytest
from celery import Celery
from faster_whisper import audio

from live_progress.plugins.audio.worker.decoding import DECODED, LastDecoded, release_after_tasks
from live_progress.plugins.audio.worker.model import load_model
from live_progress.plugins.audio.worker.pieces import speech_stretches
from live_progress.plugins.audio.worker.transcription import whisper_segments
from tests.conftest import DATA

STORY = DATA / "long" / "story.mp3"
GARDEN = DATA / "speech" / "garden.ogg"
RATE = 16_000


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The paths faster-whisper's decode_audio is called with, from now on (it still decodes)."""
    calls: list[str] = []
    real = audio.decode_audio

    def counted(path: str, *args: object, **kwargs: object) -> np.ndarray:
        calls.append(Path(path).name)
        return real(path, *args, **kwargs)

    # Under both its names: faster_whisper re-exports it.
    monkeypatch.setattr(audio, "decode_audio", counted)
    monkeypatch.setattr(faster_whisper, "decode_audio", counted)
    DECODED.release()
    yield calls
    DECODED.release()


def test_a_file_asked_for_again_is_not_decoded_again_and_its_stretches_are_views(decodes: list[str]) -> None:
    decoded = LastDecoded()

    whole = decoded.samples(STORY, RATE)
    stretch = decoded.stretch(STORY, 10.0, 20.0, RATE)

    assert decodes == ["story.mp3"]
    assert len(stretch) == 10 * RATE and np.shares_memory(stretch, whole)
    assert np.array_equal(decoded.stretch(STORY, 20.0, None, RATE), whole[20 * RATE :])


def test_another_file_takes_the_place_of_the_last(decodes: list[str]) -> None:
    decoded = LastDecoded()

    decoded.samples(STORY, RATE)
    decoded.samples(GARDEN, RATE)
    decoded.samples(STORY, RATE)

    assert decodes == ["story.mp3", "garden.ogg", "story.mp3"]


def test_a_file_changed_since_is_decoded_again(decodes: list[str], tmp_path: Path) -> None:
    decoded = LastDecoded()
    path = tmp_path / "clip.ogg"
    shutil.copy(GARDEN, path)
    before = len(decoded.samples(path, RATE))

    shutil.copy(STORY, path)  # another recording under the same name
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))

    assert len(decoded.samples(path, RATE)) != before
    assert decodes == ["clip.ogg", "clip.ogg"]


def test_release_lets_go_of_the_samples(decodes: list[str]) -> None:
    decoded = LastDecoded()
    decoded.samples(GARDEN, RATE)

    decoded.release()

    assert not decoded.holding
    decoded.samples(GARDEN, RATE)
    assert decodes == ["garden.ogg", "garden.ogg"]


def test_finding_a_long_files_pauses_and_transcribing_its_pieces_decode_it_once(decodes: list[str]) -> None:
    _speech, duration = speech_stretches(STORY)
    segments_of = whisper_segments(load_model())

    # Cut after the story's first sentence (the VAD finds no pause long enough in this clip).
    texts = [" ".join(s.text for s in segments_of(STORY, a, None, b)) for a, b in ((0.0, 12.0), (12.0, duration))]

    assert decodes == ["story.mp3"]
    assert "storm" in texts[1].lower()  # the second piece is the story's second half, transcribed


def test_a_task_that_ends_lets_go_of_the_file_it_decoded(decodes: list[str]) -> None:
    celery = Celery("decoding-test", set_as_current=False)
    release_after_tasks(celery)

    @celery.task
    def uses_the_story() -> bool:
        DECODED.samples(STORY, RATE)
        return DECODED.holding

    @celery.task
    def fails() -> None:
        DECODED.samples(GARDEN, RATE)
        raise RuntimeError("a task that fails")

    assert uses_the_story.apply().get() is True
    assert not DECODED.holding
    assert fails.apply().failed()
    assert not DECODED.holding

"""A stretch of a file decoded on its own: the same samples as the whole file's decode, and
no more of them in memory than the stretch's."""

from __future__ import annotations

import tracemalloc
import wave
from pathlib import Path

import numpy as np
import pytest
from faster_whisper import decode_audio

from live_progress.plugins.audio.worker.decoding import RATE, decode_stretch
from live_progress.plugins.audio.worker.model import load_model
from live_progress.plugins.audio.worker.transcription import whisper_segments
from tests.conftest import DATA

STORY = DATA / "long" / "story.mp3"
GARDEN = DATA / "speech" / "garden.ogg"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WAV of the committed clips one after the other (about 2 minutes)."""
    samples = np.concatenate([decode_audio(str(path)) for path in sorted((DATA / "speech").glob("*.ogg"))])
    path = tmp_path_factory.mktemp("decoding") / "clips.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((samples * 32767).astype(np.int16).tobytes())
    return path


@pytest.mark.parametrize("name", ["story.mp3", "garden.ogg", "clips.wav"])
def test_a_stretch_is_the_same_samples_as_in_the_whole_files_decode(name: str, recording: Path) -> None:
    path = {"story.mp3": STORY, "garden.ogg": GARDEN, "clips.wav": recording}[name]
    whole = decode_audio(str(path))

    assert np.array_equal(decode_stretch(path), whole)
    seconds = len(whole) / RATE
    # From the start, across a frame's edge, past the pre-roll, to the end and beyond it.
    for start, end in (
        (0.0, 3.0),
        (0.2, 1.7),
        (1.0, 5.0),
        (10.0, 20.0),
        (seconds - 4, None),
        (seconds - 4, seconds + 9),
    ):
        stretch = decode_stretch(path, start, end)
        expected = whole[round(start * RATE) : None if end is None else round(end * RATE)]
        assert np.array_equal(stretch, expected), (name, start, end)


def test_decoding_a_stretch_holds_the_stretch_not_the_file(recording: Path) -> None:
    def peak(start: float = 0.0, end: float | None = None) -> int:
        tracemalloc.start()
        try:
            decode_stretch(recording, start, end)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    whole = peak()
    five_seconds = peak(60.0, 65.0)

    assert whole > 5 * RATE * 4 * 10  # the recording's float32 samples, at the least
    assert five_seconds < whole / 5, (five_seconds, whole)


def test_a_piece_is_transcribed_from_its_own_stretch() -> None:
    segments_of = whisper_segments(load_model())

    # The story's second half, a piece from 12 s to its end: its words, on the file's clock.
    second = list(segments_of(STORY, 12.0, None, None, stretch=12.0))
    first = list(segments_of(STORY, 0.0, None, 12.0, stretch=0.0))

    assert "storm" in " ".join(s.text for s in second).lower()
    assert "storm" not in " ".join(s.text for s in first).lower()
    assert all(s.start >= 12.0 for s in second) and all(s.end <= 12.5 for s in first)

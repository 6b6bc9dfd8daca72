"""A long file's pieces: cut at pauses found near where each should end, covering it in order,
shorter toward the end, none too short; merged in order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bench.long_recording import build
from live_progress.plugins.audio.worker.checkpoint import TimedSegment, Transcript
from live_progress.plugins.audio.worker.decoding import RATE, decode_stretch
from live_progress.plugins.audio.worker.pieces import (
    MAX_PIECE_SECONDS,
    MIN_PIECE_SECONDS,
    SEARCH_SECONDS,
    Unit,
    merge,
    pauses_in,
    piece_seconds,
    plan_ranges,
)

Speech = list[tuple[float, float]]


class Recording:
    """Pauses between stretches of ``speech`` in a file of ``duration`` seconds, as the VAD
    would find them in a window; and the windows that were looked at."""

    def __init__(self, speech: Speech, duration: float) -> None:
        edges = [0.0, *(x for stretch in speech for x in stretch), duration]
        self.pauses = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b > a]
        self.looked_at: list[tuple[float, float]] = []

    def __call__(self, start: float, end: float) -> Sequence[tuple[float, float]]:
        self.looked_at.append((start, end))
        return [(max(a, start), min(b, end)) for a, b in self.pauses if a < end and b > start]


@st.composite
def speech_and_duration(draw: st.DrawFn) -> tuple[Speech, float]:
    """Stretches of speech one after the other, with pauses (possibly none) between them."""
    stretches: Speech = []
    at = draw(st.floats(0, 5))
    for _ in range(draw(st.integers(0, 120))):
        length = draw(st.floats(0.2, 40))
        stretches.append((at, at + length))
        at += length + draw(st.sampled_from([0.0, 0.3, 1.0, 2.5]))
    return stretches, at + draw(st.floats(0, 5))


def _cuts(ranges: list[tuple[float, float | None]]) -> list[float]:
    return [start for start, _ in ranges[1:]]


@given(speech_and_duration(), st.integers(1, 8))
def test_ranges_cover_the_file_in_order_and_cut_only_in_pauses(planned: tuple[Speech, float], workers: int) -> None:
    speech, duration = planned
    ranges = plan_ranges(duration, Recording(speech, duration), workers)

    assert ranges[0][0] == 0.0 and ranges[-1][1] is None  # the last runs to the file's end
    for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False):
        assert end == start  # one after the other: nothing left out, nothing twice
    for cut in _cuts(ranges):
        assert not any(s <= cut <= e for s, e in speech), (cut, speech)
    bounds = [*(start for start, _ in ranges), duration]
    if len(ranges) > 1:
        assert all(b - a >= MIN_PIECE_SECONDS for a, b in zip(bounds, bounds[1:], strict=False)), ranges


def test_pieces_get_shorter_toward_the_end_and_none_is_longer_than_the_most() -> None:
    # 4 s of speech, then 1 s of silence, for an hour.
    speech = [(5.0 * n, 5.0 * n + 4) for n in range(720)]
    recording = Recording(speech, 3600.0)

    ranges = plan_ranges(3600.0, recording, workers=2)

    bounds = [*(start for start, _ in ranges), 3600.0]
    lengths = [b - a for a, b in zip(bounds, bounds[1:], strict=False)]
    assert max(lengths) <= MAX_PIECE_SECONDS + SEARCH_SECONDS
    # Each no longer than the one before, but for where the nearest pause falls (every 5 s).
    assert all(b <= a + 5.0 for a, b in zip(lengths[:-1], lengths[1:-1], strict=False)), lengths
    assert lengths[0] > 4 * lengths[-2]
    # The workers finish on short pieces, the last ones alike (but for where the pause falls).
    assert lengths[-2] < 2 * MIN_PIECE_SECONDS and abs(lengths[-1] - lengths[-2]) <= 5.0, lengths
    # Only the audio near each cut was looked at, not the hour.
    assert sum(b - a for a, b in recording.looked_at) <= 2 * SEARCH_SECONDS * len(ranges)


def test_each_cut_is_the_pause_nearest_where_the_piece_should_end() -> None:
    # Pauses every 7 s (in the middle of 6.5 to 7.0, 13.5 to 14.0, ...).
    speech = [(7.0 * n, 7.0 * n + 6.5) for n in range(60)]

    ranges = plan_ranges(420.0, Recording(speech, 420.0), workers=2)

    first = piece_seconds(420.0, 2)
    assert first == 105.0
    assert _cuts(ranges)[0] == 104.75  # the pause at 104.5 to 105.0: nearest 105


def test_a_piece_is_a_share_of_what_is_left_between_the_least_and_the_most() -> None:
    assert piece_seconds(600.0, 2) == 150.0
    assert piece_seconds(600.0, 4) == 75.0
    assert piece_seconds(40.0, 2) == MIN_PIECE_SECONDS
    assert piece_seconds(3 * 3600.0, 2) == MAX_PIECE_SECONDS


def test_speech_without_a_pause_is_not_cut() -> None:
    assert plan_ranges(300.0, Recording([(0.5, 299.0)], 300.0), workers=2) == [(0.0, None)]


def test_a_pause_farther_on_is_looked_for_when_there_is_none_near() -> None:
    # One long stretch, then a pause at 150 to 151 s, then more speech.
    recording = Recording([(0.0, 150.0), (151.0, 400.0)], 400.0)

    ranges = plan_ranges(400.0, recording, workers=2)

    assert _cuts(ranges) == [150.5]


def test_a_short_last_piece_is_not_made() -> None:
    # The only pause ends half the least piece before the end: cutting there would leave a
    # piece under the least.
    pause = 201.0 - MIN_PIECE_SECONDS / 2
    recording = Recording([(0.0, pause - 1), (pause, 200.0)], 201.0)

    assert plan_ranges(201.0, recording, workers=2) == [(0.0, None)]


def test_the_vad_finds_pauses_where_the_audio_is_quiet(tmp_path: Path) -> None:
    recording = tmp_path / "long.wav"
    duration = build(recording, 100.0)
    audio = decode_stretch(recording)

    pauses = pauses_in(recording, 20.0, 60.0)

    assert len(pauses) >= 3
    loud = np.sqrt(np.mean(audio**2))
    for a, b in pauses:
        assert 20.0 <= a < b <= 60.0 < duration
        middle = round((a + b) / 2 * RATE)
        quiet = audio[middle - RATE // 20 : middle + RATE // 20]
        assert np.sqrt(np.mean(quiet**2)) < loud / 10, (a, b)


def test_a_unit_goes_through_json_unchanged() -> None:
    for unit in (Unit(0, Path("/a/b.mp3"), 12.5), Unit(3, Path("/a/c.ogg"), 61.0, 120.5, 181.5, 2, 5)):
        assert Unit.from_json(unit.to_json()) == unit
    assert Unit(3, Path("/a/c.ogg"), 40.0, 200.0, None, 4, 5).describe() == "c.ogg 200.0 s to end, piece 5 of 5"


def _piece(*segments: tuple[float, float, str]) -> Transcript:
    timed = tuple(TimedSegment(start, end, text) for start, end, text in segments)
    return Transcript(Path("x"), text=" ".join(s.text for s in timed), segments=timed)


def test_pieces_merge_in_order_into_the_files_transcript() -> None:
    path = Path("/audio/long.wav")
    pieces = [_piece((0.0, 4.0, "One."), (4.5, 9.0, "Two.")), _piece(), _piece((61.0, 65.0, "Three."))]

    merged = merge(path, pieces)

    assert merged.path == path and merged.error is None
    assert merged.text == "One. Two. Three."
    assert [s.start for s in merged.segments] == [0.0, 4.5, 61.0]


def test_a_piece_that_failed_fails_the_file() -> None:
    failed = Transcript(Path("x"), error="Could not transcribe long.wav: worker lost")

    merged = merge(Path("/audio/long.wav"), [_piece((0.0, 1.0, "One.")), failed])

    assert merged.error == failed.error and merged.segments == ()

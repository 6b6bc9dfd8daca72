"""A long file's pieces: cut at pauses, covering it in order, none too short; merged in order."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from live_progress.plugins.audio.worker.checkpoint import TimedSegment, Transcript
from live_progress.plugins.audio.worker.pieces import MIN_PIECE_SECONDS, PIECE_SECONDS, Unit, merge, plan_ranges


@st.composite
def speech_and_duration(draw: st.DrawFn) -> tuple[list[tuple[float, float]], float]:
    """Stretches of speech one after the other, with pauses (possibly none) between them."""
    stretches: list[tuple[float, float]] = []
    at = draw(st.floats(0, 5))
    for _ in range(draw(st.integers(0, 60))):
        length = draw(st.floats(0.2, 40))
        stretches.append((at, at + length))
        at += length + draw(st.sampled_from([0.0, 0.3, 1.0, 2.5]))
    return stretches, at + draw(st.floats(0, 5))


@given(speech_and_duration())
def test_ranges_cover_the_file_in_order_and_cut_only_between_stretches_of_speech(
    planned: tuple[list[tuple[float, float]], float],
) -> None:
    speech, duration = planned
    ranges = plan_ranges(speech, duration)

    assert ranges[0][0] == 0.0 and ranges[-1][1] == duration
    for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False):
        assert end == start  # one after the other: nothing left out, nothing twice
    for cut, _ in ranges[1:]:
        # Never inside a stretch of speech, and only where there is a pause.
        assert not any(s <= cut <= e for s, e in speech), (cut, speech)
        assert any(e < cut < s for (_, e), (s, _) in zip(speech, speech[1:], strict=False))
    if len(ranges) > 1:
        assert all(end - start >= MIN_PIECE_SECONDS for start, end in ranges), ranges
        assert all(end - start >= PIECE_SECONDS for start, end in ranges[:-1]), ranges


def test_a_long_file_with_regular_pauses_is_cut_at_the_first_pause_after_each_minute() -> None:
    # 10 s of speech, then 1 s of silence, 30 times: 330 s.
    speech = [(11.0 * n, 11.0 * n + 10) for n in range(30)]

    ranges = plan_ranges(speech, 330.0)

    assert ranges == [(0.0, 65.5), (65.5, 131.5), (131.5, 197.5), (197.5, 263.5), (263.5, 330.0)]


def test_a_short_last_piece_joins_the_one_before() -> None:
    assert plan_ranges([(0.0, 60.0), (61.0, 100.0)], 101.0) == [(0.0, 60.5), (60.5, 101.0)]
    assert plan_ranges([(0.0, 60.0), (61.0, 84.0)], 85.0) == [(0.0, 85.0)]


def test_speech_without_a_pause_is_not_cut() -> None:
    assert plan_ranges([(0.5, 299.0)], 300.0) == [(0.0, 300.0)]
    assert plan_ranges([], 300.0) == [(0.0, 300.0)]


def test_the_minimum_cannot_exceed_the_piece() -> None:
    with pytest.raises(ValueError, match="minimum"):
        plan_ranges([], 10.0, piece=5.0, minimum=6.0)


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

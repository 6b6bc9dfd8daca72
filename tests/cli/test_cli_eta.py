"""The terminal client's elapsed time and time-left arithmetic."""

from __future__ import annotations

import pytest

from live_progress.cli.eta import ProgressClock, describe_remaining, format_duration


def test_elapsed_counts_from_the_start() -> None:
    clock = ProgressClock(started=100.0)
    assert clock.elapsed(107.5) == 7.5
    assert clock.elapsed(99.0) == 0.0


def test_no_estimate_until_the_percent_has_risen_for_a_second() -> None:
    clock = ProgressClock(started=0.0)
    assert clock.remaining(5.0) is None
    clock.record(0, at=1.0)  # the first value seen: it may be old, so it is no base
    clock.record(10, at=4.0)  # the first rise: the base
    assert clock.remaining(4.0) is None
    clock.record(12, at=4.5)
    assert clock.remaining(4.5) is None  # half a second of rising is not enough
    clock.record(20, at=5.0)
    assert clock.remaining(5.0) == pytest.approx(8.0)  # 10 points a second, 80 to go


def test_the_estimate_counts_down_between_updates_and_stops_at_zero() -> None:
    clock = ProgressClock(started=0.0)
    for percent, at in [(0, 0.0), (50, 10.0), (60, 12.0)]:
        clock.record(percent, at)
    assert clock.remaining(12.0) == pytest.approx(8.0)  # 5 points a second, 40 to go
    assert clock.remaining(15.0) == pytest.approx(5.0)
    assert clock.remaining(30.0) == 0.0


def test_a_percent_that_does_not_rise_changes_nothing() -> None:
    clock = ProgressClock(started=0.0)
    for percent, at in [(0, 0.0), (10, 1.0), (30, 3.0), (30, 9.0), (20, 9.5)]:
        clock.record(percent, at)
    assert clock.remaining(3.0) == pytest.approx(7.0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (7.4, "7 s"), (59.4, "59 s"), (59.6, "1 min 00 s"), (83, "1 min 23 s"), (3725, "1 h 02 min")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(None, "estimating…"), (0.4, "almost done"), (12.2, "about 12 s left")])
def test_describe_remaining(seconds: float | None, text: str) -> None:
    assert describe_remaining(seconds) == text

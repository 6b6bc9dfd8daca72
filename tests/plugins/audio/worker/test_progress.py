"""Batch progress arithmetic and throttled progress writing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from live_progress.plugins.audio.worker.progress import BatchProgress, Meta, SplitProgress, ThrottledReporter

NAMES = ["a.mp3", "b.mp3", "c.mp3"]


@pytest.mark.parametrize(
    ("durations", "index", "seconds", "percent"),
    [
        pytest.param([10, 20, 30], 0, 0.0, 0, id="start"),
        pytest.param([10, 20, 30], 0, 5.99, 9, id="rounds-down"),
        pytest.param([10, 20, 30], 1, 0.0, 16, id="second-file-starts-after-the-first"),
        pytest.param([10, 20, 30], 1, 10.0, 33, id="weighted-by-audio-seconds"),
        pytest.param([10, 20, 30], 2, 15.0, 75, id="halfway-through-the-last"),
        pytest.param([10, 20, 30], 2, 30.0, 99, id="end-of-the-last-is-99"),
        pytest.param([10, 20, 30], 2, 45.0, 99, id="past-the-end-of-the-last-is-99"),
        pytest.param([10, 20, 30], 0, 100.0, 16, id="past-the-end-of-a-file-counts-that-file-only"),
        pytest.param([10, 20, 30], 1, -5.0, 16, id="negative-seconds-count-nothing"),
        pytest.param([10, 0, 10], 1, 5.0, 50, id="unknown-duration-counts-nothing"),
        pytest.param([10, 0, 10], 2, 5.0, 75, id="after-an-unknown-duration"),
        pytest.param([0, 0, 0], 1, 0.0, 33, id="all-unknown-count-equally"),
        pytest.param([0, 0, 0], 1, 100.0, 33, id="all-unknown-ignore-seconds"),
        pytest.param([0, 0, 0], 2, 0.0, 66, id="all-unknown-last-file"),
        pytest.param([1e-3, 1e-3, 1e-3], 2, 1e-3, 99, id="tiny-durations"),
    ],
)
def test_percent_is_audio_seconds_done_over_total(
    durations: list[float], index: int, seconds: float, percent: int
) -> None:
    assert BatchProgress(NAMES, durations).at(index, seconds)["percent"] == percent


def test_meta_describes_the_file_and_counts() -> None:
    meta = BatchProgress(NAMES, [10, 20, 30]).at(1, 10.0)

    assert meta == {"percent": 33, "description": "Transcribing b.mp3 (2 of 3)", "current": 2, "total": 3}


def test_percent_never_goes_back() -> None:
    progress = BatchProgress(NAMES, [10, 20, 30])
    progress.at(2, 15.0)

    earlier = progress.at(0, 1.0)

    assert earlier == {"percent": 75, "description": "Transcribing a.mp3 (1 of 3)", "current": 1, "total": 3}


def test_percent_rises_through_a_batch_and_stops_at_99() -> None:
    progress = BatchProgress(NAMES, [10, 20, 30])
    points = [(i, s) for i, d in enumerate([10, 20, 30]) for s in range(0, d + 1)]

    percents = [progress.at(i, s)["percent"] for i, s in points]

    assert percents == sorted(percents)
    assert (percents[0], percents[-1]) == (0, 99)


def test_total_seconds_is_the_sum_of_durations() -> None:
    assert BatchProgress(NAMES, [1.5, 0, 2.25]).total_seconds == 3.75


@pytest.mark.parametrize(
    ("names", "durations", "message"),
    [
        pytest.param(NAMES, [1.0, 2.0], "3 names but 2 durations", id="length-mismatch"),
        pytest.param(NAMES, [1.0, -2.0, 3.0], "durations has a negative value", id="negative-duration"),
    ],
)
def test_bad_batch_is_rejected(names: list[str], durations: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BatchProgress(names, durations)


@pytest.mark.parametrize(
    ("names", "index"),
    [
        pytest.param(NAMES, 3, id="past-the-end"),
        pytest.param(NAMES, -1, id="negative"),
        pytest.param([], 0, id="empty-batch"),
    ],
)
def test_index_outside_the_batch_is_rejected(names: list[str], index: int) -> None:
    progress = BatchProgress(names, [10.0] * len(names))

    with pytest.raises(ValueError, match=rf"index has value {index}; there are {len(names)} files"):
        progress.at(index)


@pytest.mark.parametrize(
    ("durations", "seconds", "done", "percent"),
    [
        pytest.param([10, 20, 30], {}, set(), 0, id="start"),
        pytest.param([10, 20, 30], {1: 10.0, 2: 15.0}, set(), 41, id="seconds-of-files-running-at-once-add-up"),
        pytest.param([10, 20, 30], {2: 15.0}, {0}, 41, id="a-finished-file-counts-whole"),
        pytest.param([10, 20, 30], {0: 3.0}, {0}, 16, id="a-finished-file-counts-whole-whatever-its-seconds"),
        pytest.param([10, 20, 30], {1: 99.0}, set(), 33, id="seconds-past-a-files-end-count-that-file-only"),
        pytest.param([10, 20, 30], {1: -5.0}, set(), 0, id="negative-seconds-count-nothing"),
        pytest.param([10, 20, 30], {}, {0, 1, 2}, 99, id="all-done-is-99-until-the-result"),
        pytest.param([0, 0, 0, 0], {0: 5.0}, {1}, 25, id="all-unknown-count-equally-by-files-done"),
        pytest.param([10, 0, 10], {1: 5.0}, {1}, 0, id="unknown-duration-counts-nothing"),
    ],
)
def test_split_percent_is_audio_seconds_done_across_files_over_total(
    durations: list[float], seconds: dict[int, float], done: set[int], percent: int
) -> None:
    assert SplitProgress(durations).at(seconds, done, running=0)["percent"] == percent


def test_split_meta_says_how_many_files_run_and_are_done() -> None:
    meta = SplitProgress([10, 20, 30, 40, 50, 60]).at({3: 20.0, 4: 0.0}, {0, 1, 2}, running=2)

    assert meta == {
        "percent": 38,
        "description": "Transcribing 6 files: 2 running, 3 done",
        "current": 3,
        "total": 6,
        "running": 2,
    }


def test_split_meta_of_one_file_says_file() -> None:
    assert SplitProgress([10]).at({0: 5.0}, set(), running=1)["description"] == "Transcribing 1 file: 1 running, 0 done"


def test_split_meta_of_a_file_in_pieces_counts_the_pieces_seconds_and_says_parts() -> None:
    # One 240 s file in four pieces: two done, the third 30 s in, the fourth not begun.
    meta = SplitProgress([62.0, 64.4, 62.0, 51.6], files=1).at({2: 30.0}, {0, 1}, running=2)

    assert meta == {
        "percent": int(100 * (62.0 + 64.4 + 30.0) / 240.0),
        "description": "Transcribing 1 file in 4 parts: 2 running, 2 done",
        "current": 2,
        "total": 4,
        "running": 2,
    }


def test_split_percent_never_goes_back_when_a_file_starts_over() -> None:
    progress = SplitProgress([10, 10])
    progress.at({0: 8.0}, set(), running=1)

    # Its worker died and the file is transcribed again from the start.
    again = progress.at({0: 1.0}, set(), running=1)

    assert again["percent"] == 40


def test_split_batch_with_a_negative_duration_is_rejected() -> None:
    with pytest.raises(ValueError, match="durations has a negative value"):
        SplitProgress([1.0, -1.0])


class Writes:
    """A write callback that records what it is given, for tests to wait on."""

    def __init__(self, behaviour: Callable[[int, Meta], None] | None = None) -> None:
        self.metas: list[Meta] = []
        self.calls = 0
        self._behaviour = behaviour
        self._changed = threading.Condition()

    def __call__(self, meta: Meta) -> None:
        with self._changed:
            self.calls += 1
            call = self.calls
            self._changed.notify_all()
        if self._behaviour is not None:
            self._behaviour(call, meta)  # may block or raise
        with self._changed:
            self.metas.append(meta)
            self._changed.notify_all()

    def until(self, predicate: Callable[[Writes], bool], timeout: float = 5.0) -> bool:
        """Whether ``predicate`` holds within ``timeout`` seconds (it is checked on every write)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)


def _close_within(reporter: ThrottledReporter, timeout: float = 5.0) -> None:
    closer = threading.Thread(target=reporter.close)
    closer.start()
    closer.join(timeout)
    assert not closer.is_alive(), f"close() still running after {timeout} s"


def _ns(metas: list[Meta]) -> list[Any]:
    return [meta["n"] for meta in metas]


def stopped_clock() -> float:
    """A clock that stands still: an interval that has begun never runs out, however slow the machine."""
    return 1_000.0


def test_burst_of_reports_costs_few_writes_and_the_last_is_written() -> None:
    writes = Writes()
    reporter = ThrottledReporter(writes, interval=0.2, clock=stopped_clock)

    for n in range(1000):
        reporter.report({"n": n})
    reporter.close()

    # The first report the writer saw, then (at close) the last.
    assert len(writes.metas) <= 2
    assert writes.metas[-1] == {"n": 999}
    assert _ns(writes.metas) == sorted(_ns(writes.metas))


def test_with_interval_0_the_last_report_is_written_and_writes_keep_report_order() -> None:
    writes = Writes()
    reporter = ThrottledReporter(writes, interval=0)

    for n in range(300):
        reporter.report({"n": n})
    reporter.close()

    ns = _ns(writes.metas)
    assert ns[-1] == 299
    assert ns == sorted(set(ns))


def test_with_interval_0_each_report_made_after_the_last_write_is_written() -> None:
    writes = Writes()

    with ThrottledReporter(writes, interval=0) as reporter:
        for n in range(5):
            reporter.report({"n": n})
            assert writes.until(lambda w, n=n: len(w.metas) == n + 1)

    assert _ns(writes.metas) == [0, 1, 2, 3, 4]


def test_reports_made_during_a_slow_write_merge_into_the_latest() -> None:
    release = threading.Event()
    writes = Writes(lambda call, meta: release.wait(5) if call == 1 else None)
    reporter = ThrottledReporter(writes, interval=0)
    reporter.report({"n": "A"})
    assert writes.until(lambda w: w.calls == 1)  # the writer is now stuck writing A

    reporter.report({"n": "B"})
    reporter.report({"n": "C"})
    release.set()
    reporter.close()

    assert _ns(writes.metas) == ["A", "C"]


def test_latest_report_is_written_after_the_interval_without_closing() -> None:
    writes = Writes()
    reporter = ThrottledReporter(writes, interval=0.05)
    reporter.report({"n": 1})
    assert writes.until(lambda w: len(w.metas) == 1)

    reporter.report({"n": 2})

    assert writes.until(lambda w: len(w.metas) == 2)
    reporter.close()
    assert _ns(writes.metas) == [1, 2]


def test_report_inside_the_interval_is_held_back_until_close() -> None:
    writes = Writes()
    reporter = ThrottledReporter(writes, interval=0.01, clock=stopped_clock)
    reporter.report({"n": 1})
    assert writes.until(lambda w: len(w.metas) == 1)

    reporter.report({"n": 2})

    # Waiting for something not to happen needs a window; a throttle-less writer takes microseconds.
    assert not writes.until(lambda w: len(w.metas) > 1, timeout=0.3)
    _close_within(reporter)
    assert _ns(writes.metas) == [1, 2]


@pytest.mark.parametrize("wrote_before", [False, True], ids=["never-reported", "after-a-write"])
def test_close_with_nothing_pending_returns_promptly(wrote_before: bool) -> None:
    writes = Writes()
    reporter = ThrottledReporter(writes, interval=60)
    if wrote_before:
        reporter.report({"n": 1})
        assert writes.until(lambda w: len(w.metas) == 1)

    _close_within(reporter)

    assert len(writes.metas) == int(wrote_before)


def test_failed_write_does_not_stop_later_writes(caplog: pytest.LogCaptureFixture) -> None:
    def fail_first(call: int, meta: Meta) -> None:
        if call == 1:
            raise ConnectionError("Redis is down")

    writes = Writes(fail_first)
    reporter = ThrottledReporter(writes, interval=0)
    reporter.report({"n": 1})
    assert writes.until(lambda w: w.calls == 1)

    reporter.report({"n": 2})
    assert writes.until(lambda w: len(w.metas) == 1)
    reporter.close()

    assert _ns(writes.metas) == [2]
    assert "Could not write progress {'n': 1}" in caplog.text


def test_negative_interval_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"interval has value -0\.1; it must be >= 0"):
        ThrottledReporter(lambda meta: None, interval=-0.1)

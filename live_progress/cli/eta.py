"""Elapsed time and an estimate of the time left, from the rate a job's percent rises.

The page does the same in ``live_progress/web/static/clock.js``.
"""

from __future__ import annotations

from dataclasses import dataclass

# Seconds the percent must have been seen rising before the rate is worth an estimate.
MIN_SPAN = 1.0


@dataclass(frozen=True, slots=True)
class _Sample:
    percent: float
    at: float


class ProgressClock:
    def __init__(self, started: float) -> None:
        self.started = started
        self._last: _Sample | None = None
        # The first rise seen: the rate is measured from there, after any queueing or model loading.
        self._base: _Sample | None = None

    def record(self, percent: float, at: float) -> None:
        if self._last is not None and percent <= self._last.percent:
            return
        first = self._last is None
        self._last = _Sample(percent, at)
        # The first value seen may be old (following a job already under way), so it is no base.
        if not first and self._base is None:
            self._base = self._last

    def elapsed(self, now: float) -> float:
        return max(0.0, now - self.started)

    def remaining(self, now: float) -> float | None:
        """Seconds left, or ``None`` while there is not enough to go on."""
        base, last = self._base, self._last
        if base is None or last is None or last.percent <= base.percent or last.at - base.at < MIN_SPAN:
            return None
        per_second = (last.percent - base.percent) / (last.at - base.at)
        return max(0.0, (100 - last.percent) / per_second - (now - last.at))


def format_duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min {whole % 60:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def describe_remaining(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    if seconds < 1:
        return "almost done"
    return f"about {format_duration(seconds)} left"

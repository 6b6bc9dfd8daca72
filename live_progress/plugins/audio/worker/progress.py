"""Progress arithmetic for a batch, and throttled writing of it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from live_progress import progress_meta

logger = logging.getLogger(__name__)

Meta = dict[str, Any]


class BatchProgress:
    """Percent of a batch = audio seconds done / total audio seconds; it never goes back.

    Files whose duration is unknown count for nothing; if no duration is known at all,
    files count equally instead. 100 is left for the finished result.
    """

    def __init__(self, names: Sequence[str], durations: Sequence[float]) -> None:
        if len(names) != len(durations):
            raise ValueError(f"{len(names)} names but {len(durations)} durations")
        if any(d < 0 for d in durations):
            raise ValueError(f"durations has a negative value: {list(durations)!r}")
        self._names = list(names)
        self._total_seconds = float(sum(durations))
        weights = list(durations) if self._total_seconds > 0 else [1.0] * len(names)
        self._weights = weights
        self._starts = [sum(weights[:i]) for i in range(len(weights))]
        self._whole = sum(weights) or 1.0
        self._best = 0

    @property
    def total_seconds(self) -> float:
        return self._total_seconds

    @property
    def best(self) -> int:
        """The highest percent reported so far."""
        return self._best

    def reached(self, percent: int) -> None:
        """Never report less than ``percent`` (what an earlier worker on this batch reported)."""
        self._best = max(self._best, percent)

    def at(self, index: int, seconds_into_file: float = 0.0) -> Meta:
        """The progress meta for being ``seconds_into_file`` into file ``index``."""
        if not 0 <= index < len(self._names):
            raise ValueError(f"index has value {index!r}; there are {len(self._names)} files")
        weight = self._weights[index]
        within = min(max(seconds_into_file, 0.0), weight) if self._total_seconds > 0 else 0.0
        done = self._starts[index] + within
        percent = min(99, int(100 * done / self._whole))
        self._best = max(self._best, percent)
        return progress_meta(
            self._best,
            f"Transcribing {self._names[index]} ({index + 1} of {len(self._names)})",
            current=index + 1,
            total=len(self._names),
        )


class SplitProgress:
    """Percent of a batch whose units (files, or pieces of long files) several workers
    transcribe at once: audio seconds done across all of them over the total, finished units
    counting whole; it never goes back.

    As in ``BatchProgress``, units count equally when no duration is known, and 100 is
    left for the finished result. ``files``: how many files the units are (default: one each).
    """

    def __init__(self, durations: Sequence[float], files: int | None = None) -> None:
        if any(d < 0 for d in durations):
            raise ValueError(f"durations has a negative value: {list(durations)!r}")
        self._by_seconds = sum(durations) > 0
        self._weights = list(durations) if self._by_seconds else [1.0] * len(durations)
        self._whole = sum(self._weights) or 1.0
        self._files = len(durations) if files is None else files
        self._best = 0

    @property
    def best(self) -> int:
        """The highest percent reported so far."""
        return self._best

    def reached(self, percent: int) -> None:
        """Never report less than ``percent`` (what an earlier leader of this batch reported)."""
        self._best = max(self._best, percent)

    def at(self, seconds: Mapping[int, float], done: Collection[int], running: int) -> Meta:
        """The meta for ``seconds`` into each unfinished unit, with units ``done`` finished."""
        reached = 0.0
        for index, weight in enumerate(self._weights):
            if index in done:
                reached += weight
            elif self._by_seconds:
                reached += min(max(seconds.get(index, 0.0), 0.0), weight)
        self._best = max(self._best, min(99, int(100 * reached / self._whole)))
        total = len(self._weights)
        files = f"{self._files} file{'' if self._files == 1 else 's'}"
        if total != self._files:
            files += f" in {total} parts"
        return progress_meta(
            self._best,
            f"Transcribing {files}: {running} running, {len(done)} done",
            current=len(done),
            total=total,
            running=running,
        )


class ThrottledReporter:
    """Writes the latest reported meta at most once per ``interval`` seconds.

    A burst of reports costs one write; whatever was reported last is always written,
    within ``interval`` of being reported or when the reporter closes. Writes happen on a
    thread of their own so the transcription never waits for Redis. ``clock`` tells the time
    (seconds); tests pass one that stands still.
    """

    def __init__(
        self, write: Callable[[Meta], None], interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if interval < 0:
            raise ValueError(f"interval has value {interval!r}; it must be >= 0")
        self._write = write
        self._interval = interval
        self._clock = clock
        self._latest: Meta | None = None
        self._closing = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="progress-writer", daemon=True)
        self._thread.start()

    def report(self, meta: Meta) -> None:
        with self._changed:
            self._latest = meta
            self._changed.notify()

    def close(self) -> None:
        """Write what is pending, then stop."""
        with self._changed:
            self._closing = True
            self._changed.notify()
        self._thread.join()

    def __enter__(self) -> ThrottledReporter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self) -> None:
        last_write = float("-inf")
        while True:
            with self._changed:
                while self._latest is None and not self._closing:
                    self._changed.wait()
                if self._latest is None:
                    return
                wait = last_write + self._interval - self._clock()
                if wait > 0 and not self._closing:
                    # Let later reports replace this one while the interval runs out.
                    self._changed.wait(wait)
                    continue
                meta, self._latest = self._latest, None
            last_write = self._clock()
            try:
                self._write(meta)
            except Exception:
                # Progress is advisory: a failed write must not sink the transcription.
                logger.exception("Could not write progress %r", meta)

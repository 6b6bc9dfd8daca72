"""Prometheus metrics of a web process, served at /metrics.

Counts on the hot path (events handed to streams, polls) are plain integers kept where they
happen and written into the metrics at scrape time, so streaming pays nothing for them.

When the service runs several web processes, each writes its figures to prometheus_client's
multiprocess folder (live_progress/web/metrics_folder.py) and ``/metrics`` adds up all of
them: the hot-path integers are written there every ``PUBLISH_SECONDS`` too.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from live_progress.web.engine.events import TaskEvent
from live_progress.web.engine.hub import Follower, StateHub
from live_progress.web.engine.sse import Streams
from live_progress.web.metrics_folder import forget_dead

_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
# How stale another process's hot-path figures may be in a scrape that this one answers.
PUBLISH_SECONDS = 1.0


class _Live:
    """Figures counted as plain integers by the hub, the stream slots and the endpoints, written
    into counters (by what they grew since the last time) and a gauge when asked."""

    def __init__(self, hub: StateHub, streams: Streams, metrics: WebMetrics, registry: CollectorRegistry) -> None:
        self._hub, self._streams, self._metrics = hub, streams, metrics
        # Summed over the live processes: the service's open streams (MAX_STREAMS is per process).
        self.open_streams = Gauge(
            "live_progress_open_streams", "Open SSE streams", multiprocess_mode="livesum", registry=registry
        )
        self.events = Counter(
            "live_progress_stream_events",
            "Task states handed to open streams, by event kind",
            ["kind"],
            registry=registry,
        )
        self.opened = Counter("live_progress_streams_opened", "SSE streams opened", registry=registry)
        self.polls = Counter("live_progress_polls", "Answers of the polling endpoint", registry=registry)
        self.reconnects = Counter(
            "live_progress_redis_reconnects", "Times the Redis subscription was re-established", registry=registry
        )
        self._written: dict[tuple[str, str], int] = {}

    def write(self) -> None:
        self.open_streams.set(self._streams.open)
        for kind, count in list(self._hub.handed_out.items()):
            self._add(self.events.labels(kind), ("events", kind), count)
        self._add(self.opened, ("opened", ""), self._metrics.streams_opened)
        self._add(self.polls, ("polls", ""), self._metrics.polls)
        self._add(self.reconnects, ("reconnects", ""), self._hub.reconnects)

    def _add(self, counter: Counter, key: tuple[str, str], count: int) -> None:
        grown = count - self._written.get(key, 0)
        if grown > 0:
            counter.inc(grown)
            self._written[key] = count


class _Tracked(Follower):
    """Follows one task this process submitted, for its timings; stops at its final event."""

    def __init__(self, metrics: WebMetrics, task: str) -> None:
        self.metrics, self.task = metrics, task
        self.submitted = time.monotonic()
        self.progressed = False

    def put(self, event: TaskEvent) -> None:
        if event.id is None:  # the subscription was lost: this process will not see the end
            self.stop()
            return
        elapsed = time.monotonic() - self.submitted
        if event.kind == "progress" and not self.progressed:
            self.progressed = True
            self.metrics.first_progress.labels(self.task).observe(elapsed)
        if event.final:
            self.stop()
            self.metrics.finished.labels(self.task, _final_state(event)).inc()
            self.metrics.duration.labels(self.task).observe(elapsed)


def _final_state(event: TaskEvent) -> str:
    return event.outcome or ("success" if event.kind == "result" else "failure")


class WebMetrics:
    """``shared``: the multiprocess folder of the service's web processes (None: this one alone)."""

    def __init__(self, shared: Path | None = None) -> None:
        # A registry per app, not the global one: two apps in one process keep apart.
        self.registry = CollectorRegistry()
        self.shared = shared
        if shared is None:
            # What the global registry would have served: Python's GC collections (their long-run
            # effect with GC_THRESHOLDS, bench/soak.py) and the process's CPU, memory and fds.
            # Not with several processes: one process's figures would jump between them.
            GCCollector(registry=self.registry)
            ProcessCollector(registry=self.registry)
            self._served = self.registry
        else:
            self._served = CollectorRegistry()
            MultiProcessCollector(self._served, path=str(shared))
        self._live: _Live | None = None
        self.polls = 0
        self.streams_opened = 0
        self.submitted = Counter(
            "live_progress_tasks_submitted", "Tasks submitted here", ["task"], registry=self.registry
        )
        self.finished = Counter(
            "live_progress_tasks_finished",
            "Tasks submitted here that finished, by final state (success, failure, cancelled)",
            ["task", "state"],
            registry=self.registry,
        )
        self.first_progress = Histogram(
            "live_progress_submit_to_first_progress_seconds",
            "From submit to the task's first progress state",
            ["task"],
            buckets=_SECONDS,
            registry=self.registry,
        )
        self.duration = Histogram(
            "live_progress_submit_to_end_seconds",
            "From submit to the task's final state",
            ["task"],
            buckets=_SECONDS,
            registry=self.registry,
        )
        self.errors = Counter(
            "live_progress_error_responses",
            "Error answers by status and whose fault: client (a 4xx: the request was wrong), outage "
            "(Redis or the broker does not answer), busy (this process at a limit), internal (a 500)",
            ["status", "kind"],
            registry=self.registry,
        )
        # Zeros from the start, so a rate of client errors or of outages is there before the first.
        for status, kind in (("400", "client"), ("404", "client"), ("503", "outage"), ("500", "internal")):
            self.errors.labels(status, kind)

    def count_error(self, status: int, kind: str) -> None:
        """An error answer sent (live_progress/web/errors.py's ErrorResponse counts itself)."""
        self.errors.labels(str(status), kind).inc()

    def watch_live(self, hub: StateHub, streams: Streams) -> None:
        self._live = _Live(hub, streams, self, self.registry)

    def publish(self) -> None:
        """Write this process's hot-path figures into its metrics (its files, when shared)."""
        if self._live is not None:
            self._live.write()

    async def publish_every(self, seconds: float = PUBLISH_SECONDS) -> None:
        """Publish for the scrapes other processes answer, until cancelled."""
        while True:
            await asyncio.sleep(seconds)
            self.publish()

    def exposition(self) -> bytes:
        """What /metrics answers: the service's figures, every process's when shared."""
        self.publish()
        if self.shared is not None:
            forget_dead(self.shared)
        return generate_latest(self._served)

    def track(self, hub: StateHub, task_id: str, task: str) -> _Tracked:
        """Time a task being submitted to its first progress and to its end (follow it before
        sending it, so its first states cannot slip by); ``stop()`` it if the send fails."""
        tracked = _Tracked(self, task)
        tracked.follow(hub, task_id)
        return tracked

"""Prometheus metrics of a web process, served at /metrics.

Counts on the hot path (events handed to streams, polls) are plain integers kept where they
happen and read at scrape time, so streaming pays nothing for them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, GCCollector, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from live_progress.web.engine.events import TaskEvent
from live_progress.web.engine.hub import Follower, StateHub
from live_progress.web.engine.sse import Streams

_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class _Live(Collector):
    """Figures read from the hub and the stream slots when Prometheus scrapes."""

    def __init__(self, hub: StateHub, streams: Streams, metrics: WebMetrics) -> None:
        self._hub, self._streams, self._metrics = hub, streams, metrics

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("live_progress_open_streams", "Open SSE streams", value=self._streams.open)
        events = CounterMetricFamily(
            "live_progress_stream_events", "Task states handed to open streams, by event kind", labels=["kind"]
        )
        for kind, count in sorted(self._hub.handed_out.items()):
            events.add_metric([kind], count)
        yield events
        yield CounterMetricFamily(
            "live_progress_streams_opened", "SSE streams opened", value=self._metrics.streams_opened
        )
        yield CounterMetricFamily("live_progress_polls", "Answers of the polling endpoint", value=self._metrics.polls)
        yield CounterMetricFamily(
            "live_progress_redis_reconnects",
            "Times the Redis subscription was re-established",
            value=self._hub.reconnects,
        )


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
    def __init__(self) -> None:
        # A registry per app, not the global one: two apps in one process keep apart.
        self.registry = CollectorRegistry()
        # What the global registry would have served: Python's GC collections (their long-run
        # effect with GC_THRESHOLDS, bench/soak.py) and the process's CPU, memory and fds.
        GCCollector(registry=self.registry)
        ProcessCollector(registry=self.registry)
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
        self.registry.register(_Live(hub, streams, self))

    def track(self, hub: StateHub, task_id: str, task: str) -> _Tracked:
        """Time a task being submitted to its first progress and to its end (follow it before
        sending it, so its first states cannot slip by); ``stop()`` it if the send fails."""
        tracked = _Tracked(self, task)
        tracked.follow(hub, task_id)
        return tracked

"""One measured run: N watchers open, then a writer writes task states at a steady rate.

The window runs from the first write to the last event read; the web process's CPU time,
the Redis commands it caused and the events delivered are all counted over that window.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from redis import Redis

from bench.loadgen import WatchStats, close_all, open_watchers
from bench.measure import command_counts, connections_by_process, cpu_seconds, own_cpu_seconds, percentile, rss_bytes
from bench.profile import Profiler
from bench.writer import WriterHandle, start_writer

_SAMPLE_SECONDS = 0.05


@dataclass(frozen=True)
class Load:
    watchers: int
    tasks: int
    writes_per_task: int
    rate: float  # writes a second, over all tasks
    connect_window: int  # watchers at most waiting for their snapshot at once
    drain: float = 5.0  # seconds after the last write to wait for stragglers


@dataclass
class WatchResult:
    design: str
    load: Load
    opened: int = 0
    expected: int = 0  # every write to every watcher's task, for every watcher asked for
    delivered: int = 0
    ended_early: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latency_ms: tuple[float, float, float] = (0.0, 0.0, 0.0)  # p50, p99, max
    first_event_ms: tuple[float, float, float] = (0.0, 0.0, 0.0)
    connect_seconds: float = 0.0  # from the first connect to every snapshot read
    window_seconds: float = 0.0
    web_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    client_connect_cpu_seconds: float = 0.0
    # From the first connect until the web is quiet again; NaN when it never was.
    web_connect_cpu_seconds: float = math.nan
    web_commands: Counter[str] = field(default_factory=Counter)
    rss_idle: int = 0
    rss_open: int = 0
    # The streams each web process holds once all are open (uvicorn --workers N: N of them).
    streams_by_process: list[int] = field(default_factory=list)

    @property
    def delivery(self) -> float:
        return self.delivered / self.expected if self.expected else 0.0

    def per_event(self, amount: float) -> float:
        return amount / self.delivered if self.delivered else float("nan")

    @property
    def bytes_per_stream(self) -> float:
        return (self.rss_open - self.rss_idle) / self.opened if self.opened else float("nan")


async def run_watch(
    design: str,
    load: Load,
    port: int,
    web_pid: int,
    redis_url: str,
    task_ids: list[str],
    path_of: Callable[[str], str],
    writer_commands: Counter[str],
    profiler: Profiler | None = None,
    quiet_within: float = 20.0,
) -> WatchResult:
    """Opens the watchers, waits up to ``quiet_within`` seconds for the web process to finish
    with them (a design that polls is never quiet: 0), then writes and measures."""
    result = WatchResult(design, load, expected=load.watchers * load.writes_per_task)
    total_writes = load.tasks * load.writes_per_task
    writer = start_writer(redis_url, task_ids, load.writes_per_task, load.rate)
    stats = WatchStats()
    try:
        writer.wait_ready()  # its start-up would otherwise compete with the connects for the CPU
        result.rss_idle = rss_bytes(web_pid)
        paths = [path_of(task_ids[n % load.tasks]) for n in range(load.watchers)]
        client_cpu, web_cpu = own_cpu_seconds(), cpu_seconds(web_pid)
        started = time.perf_counter()
        watchers = await open_watchers(port, paths, stats, load.connect_window, timeout=120)
        result.connect_seconds = time.perf_counter() - started
        result.client_connect_cpu_seconds = own_cpu_seconds() - client_cpu
        result.opened = len(stats.first_event_ns)
        result.streams_by_process = sorted(connections_by_process(web_pid, port).values(), reverse=True)
        if await _until_quiet(web_pid, quiet_within):
            result.web_connect_cpu_seconds = cpu_seconds(web_pid) - web_cpu
        with Redis.from_url(redis_url) as redis:
            start = _sample(web_pid, redis, writer)
            if profiler is not None:
                profiler.start(web_pid)
            writer.start_writing()
            samples = await _sample_until_done(
                web_pid, redis, stats, writer, total_writes, result.opened * load.writes_per_task, load
            )
            if profiler is not None:
                profiler.stop()
        result.rss_open = rss_bytes(web_pid)
        close_all(watchers)
    finally:
        writer.stop()
        if profiler is not None:
            profiler.stop()
    # The window ends at the sample taken just after the last event was read.
    end = next((s for s in samples if s.at_ns >= stats.last_event_ns), samples[-1])
    result.window_seconds = (end.at_ns - start.at_ns) / 1e9
    result.web_cpu_seconds = end.web_cpu - start.web_cpu
    result.client_cpu_seconds = end.client_cpu - start.client_cpu
    commands = end.commands - start.commands
    for name, calls in writer_commands.items():
        commands[name] -= calls * (end.written - start.written)
    commands.pop("info", None)  # the benchmark's own
    result.web_commands = +commands
    result.delivered = stats.events
    result.ended_early = stats.ended_early
    result.errors = stats.errors
    result.latency_ms = _summary(stats.latencies_ns)
    result.first_event_ms = _summary(stats.first_event_ns)
    return result


def _summary(values_ns) -> tuple[float, float, float]:
    return percentile(values_ns, 50) / 1e6, percentile(values_ns, 99) / 1e6, percentile(values_ns, 100) / 1e6


async def _until_quiet(pid: int, timeout: float) -> bool:
    """Waits until the web process has finished with the connects (under 5 % of a core)."""
    deadline = time.monotonic() + timeout
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        now = cpu_seconds(pid)
        if now - before <= 0.01:
            return True
        before = now
    return False


@dataclass(frozen=True)
class _Sample:
    at_ns: int
    web_cpu: float
    client_cpu: float
    commands: Counter[str]
    written: int


def _sample(web_pid: int, redis: Redis, writer: WriterHandle) -> _Sample:
    return _Sample(time.time_ns(), cpu_seconds(web_pid), own_cpu_seconds(), command_counts(redis), writer.written.value)


async def _sample_until_done(
    web_pid: int, redis: Redis, stats: WatchStats, writer: WriterHandle, total_writes: int, expected: int, load: Load
) -> list[_Sample]:
    """Samples every 50 ms until every event arrived, or the drain after the last write ran out."""
    samples = []
    give_up = time.monotonic() + 3 * total_writes / load.rate + 30
    drained_at = None
    while time.monotonic() < give_up:
        await asyncio.sleep(_SAMPLE_SECONDS)
        samples.append(_sample(web_pid, redis, writer))
        if stats.events >= expected:
            break
        if drained_at is None and (writer.written.value >= total_writes or not writer.process.is_alive()):
            drained_at = time.monotonic() + load.drain
        if drained_at is not None and time.monotonic() > drained_at:
            break
    return samples

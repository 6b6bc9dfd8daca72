"""Soak (issue 13): an hour of streams that come and go, on one web process, watched for drift.

    scripts/bench soak [--minutes 60] [--every 5] [--streams 2000] [--tasks 50] [--rate 100]
                       [--churn 0.01] [--gc-thresholds 700,10,10] [--quick] [--plot docs/soak.png]

Starts its own redis-server and one web process as the Procfile's web line does (uvicorn, no
worker: a writer process stores PROGRESS states with Celery's own backend API, as
update_state does, ``--rate`` a second round robin over ``--tasks`` tasks). ``--streams`` SSE
streams stay open; every second ``--churn`` of them are closed and opened again, every other
one with the Last-Event-ID it last read (as EventSource reconnects), the others afresh.
Every ``--every`` minutes a row: the web's RSS, its CPU per delivered event (the churn's
connects included), the events delivered, first-event and delivery latency, its open streams
and Python GC collections (its /metrics), the load average and the load client's CPU. At the
end: whether RSS and CPU per event at the last row are within 10 % of the first row's; the
rows drawn into ``--plot`` (RSS and CPU per event against minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import random
import sys
import tempfile
import time
import urllib.request
from array import array
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

import uvloop
from prometheus_client.parser import text_string_to_metric_families

from bench import ROOT, plots
from bench.loadgen import Watcher, WatchStats, close_all, open_watchers, sse_request
from bench.measure import cpu_seconds, own_cpu_seconds, percentile, raise_fd_limit, rss_bytes
from bench.report import code_version, machine
from bench.servers import PROCFILE_FACTORY, WebSpec, start_uvicorn
from bench.writer import issue_tasks, start_writer
from live_progress.launch.redis_server import RedisServer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TOLERANCE = 0.10  # the last row's RSS and CPU per event against the first row's
# Issue 24's bound for a web that does not grow, drawn on the plot: the last row's RSS within
# 5 % of minute 10's (by minute 10 the streams have all been reopened once, the heap settled).
SETTLED_MINUTE, SETTLED_WITHIN = 10, 0.05


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="how long the streams are watched")
    parser.add_argument("--every", type=float, default=5.0, help="minutes between rows")
    parser.add_argument("--streams", type=int, default=2_000)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0, help="state writes a second, over all tasks")
    parser.add_argument("--churn", type=float, default=0.01, help="share of the streams closed and reopened a second")
    parser.add_argument("--connect-window", type=int, default=1_000, help="streams at most awaiting their snapshot")
    parser.add_argument(
        "--gc-thresholds", help="the web's GC_THRESHOLDS (default: the service's own; Python's are 700,10,10)"
    )
    parser.add_argument("--seed", type=int, default=13, help="which streams the churn picks")
    parser.add_argument("--quick", action="store_true", help="2 minutes, a row every 30 s, at small sizes (CI)")
    parser.add_argument(
        "--plot", type=Path, help="the PNG the rows are drawn into (default docs/soak.png; --quick: none)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes, args.every, args.streams, args.tasks, args.rate = 2.0, 0.5, 200, 10, 20.0
    elif args.plot is None:
        args.plot = ROOT / "docs" / "soak.png"
    return args


class ResumingWatcher(Watcher):
    """A watcher that remembers the id of the last event it read, for a Last-Event-ID."""

    __slots__ = ("last_id",)

    def __init__(self, stats: WatchStats, request: bytes, on_ready: Callable[[], None]) -> None:
        super().__init__(stats, request, on_ready)
        self.last_id: str | None = None

    def data_received(self, data: bytes) -> None:
        # Compact JSON has no "id: "; an id cut by a segment boundary keeps the one before.
        at = data.rfind(b"id: ")
        if at >= 0:
            end = data.find(b"\n", at)
            if end > 0:
                self.last_id = data[at + 4 : end].decode()
        super().data_received(data)


@dataclass(frozen=True)
class Probe:
    """What is read about the web process and the client at one moment."""

    at: float  # time.monotonic()
    web_cpu: float
    client_cpu: float
    events: int
    written: int
    gc_collections: tuple[int, ...]  # per generation, since the web started
    gc_collected: int  # objects, all generations

    def __sub__(self, other: Probe) -> Probe:
        return Probe(
            self.at - other.at,
            self.web_cpu - other.web_cpu,
            self.client_cpu - other.client_cpu,
            self.events - other.events,
            self.written - other.written,
            tuple(a - b for a, b in zip(self.gc_collections, other.gc_collections, strict=True)),
            self.gc_collected - other.gc_collected,
        )


@dataclass(frozen=True)
class Row:
    minute: float
    rss: int
    delta: Probe  # over the interval the row closes
    expected: int  # each state written, times the streams of its task
    first_event_ms: tuple[float, float]  # p50, p99 of the streams (re)opened in the interval
    latency_ms: tuple[float, float]
    open_streams: int | None  # as the web counts them; None: its /metrics did not answer
    reopened: int
    not_reopened: int  # refused, or no first event
    why_not: dict[str, int]  # what those got instead (e.g. "HTTP/1.1 503 Service Unavailable")
    ended_early: int  # closed by the server
    load: float  # 1-minute load average

    @property
    def cpu_per_event_us(self) -> float:
        return 1e6 * self.delta.web_cpu / self.delta.events if self.delta.events else math.nan

    @property
    def delivered(self) -> float:
        return self.delta.events / self.expected if self.expected else math.nan


HEADER = [
    "| minute | web RSS | web CPU / event | web CPU | events (delivered) | first event p50 / p99"
    " | latency p50 / p99 | open streams | reopened (failed) | GC collections gen 0 / 1 / 2 | GC objects"
    " collected | load avg | client CPU |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
]


def _n(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def _streams(count: int | None) -> str:
    return "no /metrics answer" if count is None else f"{count:,}"


def format_row(row: Row) -> str:
    d = row.delta
    failed = f"{row.not_reopened:,}" + "".join(f", {what} x{n:,}" for what, n in sorted(row.why_not.items()))
    failed += f", {row.ended_early:,} ended by the server" if row.ended_early else ""
    return (
        f"| {row.minute:g} | {row.rss / 2**20:,.1f} MB | {_n(row.cpu_per_event_us, 0)} µs | {d.web_cpu / d.at:.0%}"
        f" | {d.events:,} ({_n(100 * row.delivered, 2)} %) | {_n(row.first_event_ms[0])} / {_n(row.first_event_ms[1])}"
        f" ms | {_n(row.latency_ms[0])} / {_n(row.latency_ms[1])} ms | {_streams(row.open_streams)} | {row.reopened:,}"
        f" ({failed}) | {' / '.join(f'{n:,}' for n in d.gc_collections)} | {d.gc_collected:,} | {row.load:.2f}"
        f" | {d.client_cpu / d.at:.0%} |"
    )


def verdict(rows: list[Row]) -> list[str]:
    """Whether the last row's RSS and CPU per event are within 10 % of the first row's."""
    if len(rows) < 2:
        return ["Fewer than two rows: no drift to judge."]
    first, last = rows[0], rows[-1]
    lines = []
    for what, unit, scale, a, b in (
        ("web RSS", "MB", 2**20, first.rss, last.rss),
        ("web CPU per event", "µs", 1e-6, first.cpu_per_event_us * 1e-6, last.cpu_per_event_us * 1e-6),
    ):
        change = b / a - 1 if a else math.nan
        within = abs(change) <= TOLERANCE
        lines.append(
            f"{what}: {a / scale:,.1f} {unit} at minute {first.minute:g}, {b / scale:,.1f} {unit} at minute"
            f" {last.minute:g} ({change:+.1%}): {'within' if within else '**not** within'} {TOLERANCE:.0%}"
        )
    return lines


def series(rows: list[Row]) -> tuple[list[float], list[float], list[float]]:
    """What the plot draws: the rows' minutes, web RSS in MB, web CPU per event in µs."""
    return [r.minute for r in rows], [r.rss / 2**20 for r in rows], [r.cpu_per_event_us for r in rows]


def draw(rows: list[Row], args: argparse.Namespace, path: Path, note: str) -> Figure:
    """Web RSS over web CPU per event, against minutes, into the PNG ``path``."""
    minutes, rss, cpu = series(rows)
    figure = plots.figure(9, 6)
    rss_axis, cpu_axis = figure.subplots(2, 1, sharex=True)
    settled = next((mb for minute, mb in zip(minutes, rss, strict=True) if minute == SETTLED_MINUTE), None)
    if settled is not None:
        rss_axis.axhspan(
            settled * (1 - SETTLED_WITHIN), settled * (1 + SETTLED_WITHIN), color="tab:green", alpha=0.12,
            label=f"within {SETTLED_WITHIN:.0%} of minute {SETTLED_MINUTE}'s",
        )  # fmt: skip
    rss_axis.plot(minutes, rss, "o-", color="black", label="web RSS")
    # Not from zero, but never so close that a megabyte's noise looks like a trend.
    low, high = min(rss), max(rss)
    rss_axis.set_ylim(min(low, 0.9 * high) * 0.95, max(high, 1.1 * low) * 1.05)
    rss_axis.set_ylabel("web RSS (MB)")
    rss_axis.legend(loc="lower right", fontsize=8)
    cpu_axis.plot(minutes, cpu, "o-", color="tab:blue", label="web CPU per delivered event")
    cpu_axis.set_ylim(0, 1.25 * max((c for c in cpu if not math.isnan(c)), default=1))
    cpu_axis.set_ylabel("web CPU / event (µs)")
    cpu_axis.set_xlabel("minutes into the soak (each point: the interval it closes)")
    cpu_axis.set_xlim(0, max(minutes, default=1) * 1.02)
    for axis in (rss_axis, cpu_axis):
        axis.grid(alpha=0.3)
    rss_axis.set_title(
        f"bench.soak: one web process, {args.streams:,} streams on {args.tasks} tasks, {args.rate:g} writes/s,"
        f" {args.churn:.0%} of the streams reopened a second",
        fontsize=10,
    )
    plots.save(figure, path, note)
    return figure


def _summaries(latencies_ns: array, first_events_ns: array) -> tuple[tuple[float, float], tuple[float, float]]:
    """p50 and p99 in ms; run in another process, so sorting a million values does not stall the
    client's event loop (which would show as latency)."""
    return tuple(  # type: ignore[return-value]
        (percentile(values, 50) / 1e6, percentile(values, 99) / 1e6) for values in (latencies_ns, first_events_ns)
    )


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as response:
        text = response.read().decode()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


class Soak:
    def __init__(self, args: argparse.Namespace, port: int, web_pid: int, paths: list[str]) -> None:
        self.args = args
        self.port = port
        self.web_pid = web_pid
        self.paths = paths
        self.stats = WatchStats()
        self.watchers: list[Watcher] = []
        self.random = random.Random(args.seed)
        self.reopened = 0
        self.connecting: set[asyncio.Task[None]] = set()
        self.last_gc: tuple[tuple[int, ...], int] | None = None

    async def probe(self, written: int) -> tuple[Probe, int | None]:
        """The figures now; the web's open streams, None when its /metrics did not answer in
        time (its GC figures are then the last ones read, and go to the next row)."""
        at, web_cpu, client_cpu = time.monotonic(), cpu_seconds(self.web_pid), own_cpu_seconds()
        events = self.stats.events
        try:
            metrics = await asyncio.to_thread(scrape, self.port)
        except OSError:
            if self.last_gc is None:
                raise
            return Probe(at, web_cpu, client_cpu, events, written, *self.last_gc), None
        collections = metrics.get("python_gc_collections_total", {})
        generations = sorted(collections, key=lambda labels: dict(labels)["generation"])
        self.last_gc = (
            tuple(int(collections[g]) for g in generations),
            int(sum(metrics.get("python_gc_objects_collected_total", {}).values())),
        )
        return Probe(at, web_cpu, client_cpu, events, written, *self.last_gc), int(
            metrics["live_progress_open_streams"][()]
        )

    def churn(self) -> None:
        """Closes a share of the streams and opens each again: every other one resumes."""
        loop = asyncio.get_running_loop()
        count = max(1, round(self.args.churn * len(self.watchers))) if self.args.churn > 0 else 0
        for index in self.random.sample(range(len(self.watchers)), count):
            old = self.watchers[index]
            if not old.open:  # still connecting (or refused): closing it would count as a failure
                continue
            old.close()
            last_id = old.last_id if self.reopened % 2 and isinstance(old, ResumingWatcher) else None
            watcher = ResumingWatcher(self.stats, sse_request(self.paths[index], self.port, last_id), lambda: None)
            self.watchers[index] = watcher
            self.reopened += 1
            task = loop.create_task(self._connect(watcher))
            self.connecting.add(task)
            task.add_done_callback(self.connecting.discard)

    async def _connect(self, watcher: Watcher) -> None:
        try:
            await asyncio.get_running_loop().create_connection(lambda: watcher, "127.0.0.1", self.port)
        except OSError as exc:
            watcher.failed(f"{type(exc).__name__} {exc.errno or ''}".strip())

    def close(self) -> None:
        close_all(self.watchers)
        for task in list(self.connecting):
            task.cancel()

    def take_interval(self) -> tuple[array, array]:
        """The latencies recorded since the last call, handed over and started afresh."""
        stats = self.stats
        latencies, firsts = stats.latencies_ns, stats.first_event_ns
        stats.latencies_ns, stats.first_event_ns = array("q"), array("q")
        return latencies, firsts


async def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> list[Row]:
    """Runs the soak, printing with ``out`` as it goes; returns the rows."""
    seconds, every = 60 * args.minutes, 60 * args.every
    with contextlib.ExitStack() as cleanup:
        tmp = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-soak-"))
        redis = cleanup.enter_context(RedisServer())
        env = {**os.environ, "REDIS_URL": redis.url, "MAX_STREAMS": str(2 * args.streams + 1_000)}
        if args.gc_thresholds:
            env["GC_THRESHOLDS"] = args.gc_thresholds
        spec = WebSpec("web-soak", PROCFILE_FACTORY, env, Path(tmp) / "logs", "/healthz", b'"subscribed"')
        web, port = start_uvicorn(spec)
        cleanup.callback(web.stop)
        # The writer goes on a minute past the last row, so that every interval is written.
        task_ids = issue_tasks(redis.url, args.tasks, int(seconds) + 3_600)
        writes_per_task = math.ceil(args.rate * (seconds + 60) / args.tasks)
        writer = start_writer(redis.url, task_ids, writes_per_task, args.rate)
        cleanup.callback(writer.stop)
        pool = cleanup.enter_context(ProcessPoolExecutor(1, mp_context=get_context("spawn")))
        paths = [f"/audio/transcribe/events/{task_ids[n % args.tasks]}" for n in range(args.streams)]
        soak = Soak(args, port, web.popen.pid, paths)
        cleanup.callback(soak.close)
        rows: list[Row] = []
        writer.wait_ready()
        pool.submit(int).result()  # started before the clock
        opening = time.perf_counter()
        soak.watchers = await open_watchers(
            port, paths, soak.stats, args.connect_window, timeout=120, watcher_class=ResumingWatcher
        )
        opened = len(soak.stats.first_event_ns)
        _, firsts = soak.take_interval()
        p50, p99 = (percentile(firsts, q) / 1e6 for q in (50, 99))
        out(
            f"{opened:,} of {args.streams:,} streams open in {time.perf_counter() - opening:.1f} s (first event"
            f" p50 {p50:.1f} ms, p99 {p99:.1f} ms); load average {os.getloadavg()[0]:.2f}"
        )
        out("")
        for line in HEADER:
            out(line)
        writer.start_writing()
        start, _ = await soak.probe(writer.written.value)
        last = start
        not_reopened = ended_early = reopened = 0
        errors_before = Counter(soak.stats.errors)
        for n in range(1, math.floor(seconds / every + 1e-9) + 1):
            interval_end = start.at + n * every
            while (now := time.monotonic()) < interval_end:
                await asyncio.sleep(min(1.0, interval_end - now))
                if time.monotonic() < interval_end:
                    soak.churn()
            probe, open_streams = await soak.probe(writer.written.value)
            latencies, firsts = soak.take_interval()
            latency, first = await asyncio.wrap_future(pool.submit(_summaries, latencies, firsts))
            refused, early = soak.stats.refused, soak.stats.ended_early
            delta = probe - last
            row = Row(
                minute=round(n * args.every, 2),
                rss=rss_bytes(web.popen.pid),
                delta=delta,
                expected=round(delta.written * args.streams / args.tasks),
                first_event_ms=first,
                latency_ms=latency,
                open_streams=open_streams,
                reopened=soak.reopened - reopened,
                not_reopened=refused - not_reopened,
                why_not=dict(Counter(soak.stats.errors) - errors_before),
                ended_early=early - ended_early,
                load=os.getloadavg()[0],
            )
            not_reopened, ended_early, reopened = refused, early, soak.reopened
            errors_before = Counter(soak.stats.errors)
            rows.append(row)
            out(format_row(row))
            last = probe
    return rows


def main() -> None:
    args = parse_args()
    raise_fd_limit()
    command = " ".join(["scripts/bench soak", *sys.argv[1:]])
    note = plots.footnote(command)  # the commit and time the run starts at
    print(
        f"`{command}` at commit {code_version()}, {time.strftime('%Y-%m-%d %H:%M %Z')}, on {machine()}; Python"
        f" {platform.python_version()}. One web process as the Procfile starts it"
        f" (GC_THRESHOLDS {args.gc_thresholds or 'the default'}), {args.streams:,} streams on {args.tasks} tasks,"
        f" {args.rate:g} state writes/s, {args.churn:.1%} of the streams closed and reopened every second"
        f" (every other one with Last-Event-ID). Load average at the start {os.getloadavg()[0]:.2f}.",
        flush=True,
    )
    rows = uvloop.run(run(args, lambda line: print(line, flush=True)))
    print()
    for line in verdict(rows):
        print(line)
    if args.plot is not None and rows:
        plot = args.plot
        plots.draw_and_say(lambda: draw(rows, args, plot, note), plot)


if __name__ == "__main__":
    main()

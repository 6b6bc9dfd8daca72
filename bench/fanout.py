"""Streaming at scale (issue 4): thousands of SSE watchers on one web process (or several).

    scripts/bench fanout [--watchers 10000] [--tasks 50] [--writes-per-task 10] [--rate 100]
                         [--polling-watchers 2000] [--push 12500,15000,...] [--quick]
                         [--server uvicorn|granian] [--web-processes 1] [--profile FILE] [--write-results]
                         [--plot docs/fanout.png]

Starts its own redis-server and, one at a time, web servers under uvicorn (``--server
granian``: under granian, see bench/servers.py). No worker: a writer process stores PROGRESS
states with Celery's own backend API, as update_state does. Measures the service's polling
endpoint against a bare Starlette route, the service with ``--watchers`` streams, the usual
0.5 s polling design (bench/polling_reference.py) for the ratios, and the service pushed on
toward the file-descriptor limit. With ``--web-processes N`` the service runs as uvicorn
``--workers N`` (its CPU and memory: all its processes together). The service's runs (at
``--watchers`` and each ``--push``) are drawn into ``--plot``: latency and CPU per event
against the streams open.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import uvloop
from redis import Redis

from bench import ROOT, plots
from bench.loadgen import hammer
from bench.measure import percentile, raise_fd_limit
from bench.profile import Profile, Profiler, print_profile, top_frames
from bench.report import (
    BARE,
    CPU_PER_EVENT_GOAL_US,
    ENDPOINT,
    LATENCY_P50_GOAL_MS,
    LATENCY_P99_GOAL_MS,
    POLLING,
    SERVICE,
    Run,
    Throughput,
    processes,
    render,
    write_results,
)
from bench.scenario import Load, WatchResult, run_watch
from bench.servers import PROCFILE_FACTORY, SERVERS, WebSpec, serving_pid
from bench.writer import celery_app, commands_per_write, issue_tasks, store_progress
from live_progress.launch.processes import Process
from live_progress.launch.redis_server import RedisServer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PUSH = "12500,15000,17500,19000,19500"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--writes-per-task", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100.0, help="state writes a second, over all tasks")
    parser.add_argument("--polling-watchers", type=int, default=2_000)
    parser.add_argument("--push", help=f"more watcher counts, toward the fd limit (default {PUSH}; '' for none)")
    parser.add_argument(
        "--connect-window", type=int, default=256, help="watchers at most awaiting their snapshot at once"
    )
    parser.add_argument("--http-connections", type=int, default=32)
    parser.add_argument("--http-seconds", type=float, default=5.0)
    parser.add_argument("--server", choices=SERVERS, default="uvicorn", help="the ASGI server every web runs under")
    parser.add_argument(
        "--web-factory", default=PROCFILE_FACTORY, help="the app under test (uvicorn --factory; default %(default)s)"
    )
    parser.add_argument(
        "--web-processes", type=int, default=1, help="the service's web processes (WEB_CONCURRENCY), on one port"
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run at small sizes")
    parser.add_argument("--profile", type=Path, help="one more run under py-spy; its raw stacks go to this file")
    parser.add_argument("--write-results", action="store_true", help="rewrite the results block in docs/benchmarks.md")
    parser.add_argument(
        "--plot", type=Path, help="the PNG the service's runs are drawn into (default docs/fanout.png; --quick: none)"
    )
    args = parser.parse_args(argv)
    if args.profile and args.web_processes > 1:
        parser.error("--profile samples one web process: leave --web-processes at 1")
    if args.quick:
        args.watchers, args.tasks, args.writes_per_task, args.rate = 2_000, 20, 5, 50.0
        args.polling_watchers, args.http_seconds = 400, 2.0
    if args.push is None:
        args.push = "" if args.quick else PUSH
    if args.plot is None and not args.quick:
        args.plot = ROOT / "docs" / "fanout.png"
    args.push = [int(n) for n in args.push.split(",") if n.strip()]
    return args


class Bench:
    def __init__(self, args: argparse.Namespace, redis: RedisServer, logs: Path) -> None:
        self.args = args
        self.redis_url = redis.url
        self.logs = logs
        # MAX_STREAMS above anything pushed, so the fd limit is what stops it.
        self.env = {**os.environ, "REDIS_URL": redis.url, "MAX_STREAMS": "30000"}
        self.writer_commands: Counter[str] = Counter()

    def load(self, watchers: int) -> Load:
        a = self.args
        return Load(watchers, a.tasks, a.writes_per_task, a.rate, a.connect_window)

    def start_service(self, name: str) -> tuple[Process, int]:
        a = self.args
        web = WebSpec(name, a.web_factory, self.env, self.logs, "/healthz", b'"subscribed":true', a.web_processes)
        return SERVERS[a.server](web)

    def start(self, name: str, factory: str, ready_path: str, ready_text: bytes = b"") -> tuple[Process, int]:
        return SERVERS[self.args.server](WebSpec(name, factory, self.env, self.logs, ready_path, ready_text))

    async def service(self, watchers: int, name: str = "web", profiler: Profiler | None = None) -> WatchResult:
        web, port = self.start_service(name)
        try:
            task_ids = issue_tasks(self.redis_url, self.args.tasks, 3600)
            return await run_watch(
                SERVICE, self.load(watchers), port, serving_pid(web), self.redis_url, task_ids,
                lambda task_id: f"/audio/transcribe/events/{task_id}", self.writer_commands, profiler,
            )  # fmt: skip
        finally:
            web.stop()

    async def polling(self) -> WatchResult:
        factory = "bench.polling_reference:create_app"
        reference, port = self.start("polling-reference", factory, "/healthz")
        try:
            task_ids = issue_tasks(self.redis_url, self.args.tasks, 3600)
            return await run_watch(
                POLLING, self.load(self.args.polling_watchers), port, serving_pid(reference), self.redis_url,
                task_ids, lambda task_id: f"/events/{task_id}", self.writer_commands, quiet_within=0,
            )  # fmt: skip
        finally:
            reference.stop()

    async def endpoint_throughput(self) -> tuple[Throughput, Throughput]:
        """GET /audio/transcribe/result/<id> of a running task against a bare JSON route."""
        [task_id] = issue_tasks(self.redis_url, 1, 3600)
        celery = celery_app(self.redis_url)
        store_progress(celery, task_id, 4, 10)
        celery.close()
        web, web_port = self.start_service("web-polling")
        bare, bare_port = self.start("bare", "bench.bare_app:create_app", "/result/x")
        routes = {
            ENDPOINT: (web_port, f"/audio/transcribe/result/{task_id}"),
            BARE: (bare_port, f"/result/{task_id}"),
        }
        best: dict[str, Throughput] = {}
        try:
            for _round in range(2):  # alternated, so both see the same noise
                for route, (port, path) in routes.items():
                    stats = await hammer(port, path, self.args.http_connections, 1.0, self.args.http_seconds)
                    rps = len(stats.latencies_ns) / stats.seconds
                    if route not in best or rps > best[route].requests_per_second:
                        p50, p99 = (percentile(stats.latencies_ns, q) / 1e6 for q in (50, 99))
                        client = stats.client_cpu / stats.seconds
                        best[route] = Throughput(route, rps, p50, p99, stats.failures, client)
        finally:
            web.stop()
            bare.stop()
        return best[ENDPOINT], best[BARE]


async def run(args: argparse.Namespace) -> tuple[Run, Profile | None]:
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp, RedisServer() as redis:
        bench = Bench(args, redis, Path(tmp) / "logs")
        bench.writer_commands = commands_per_write(redis.url)
        with Redis.from_url(redis.url) as client:
            version = str(client.info("server")["redis_version"])
        run = Run(args, bench.writer_commands, version)
        run.endpoint, run.bare = await bench.endpoint_throughput()
        run.service = await bench.service(args.watchers)
        run.polling = await bench.polling()
        run.pushed = [await bench.service(n, f"web-{n}") for n in args.push]
        profile = None
        if args.profile:
            profiler = Profiler(args.profile)
            await bench.service(args.watchers, "web-profiled", profiler)
            profile = top_frames(args.profile)
    return run, profile


def series(results: list[WatchResult]) -> tuple[list[int], list[float], list[float], list[float]]:
    """What the plot draws, by streams asked for: latency p50 and p99 (ms), web CPU per event (µs)."""
    ordered = sorted(results, key=lambda r: r.load.watchers)
    return (
        [r.load.watchers for r in ordered],
        [r.latency_ms[0] for r in ordered],
        [r.latency_ms[1] for r in ordered],
        [1e6 * r.per_event(r.web_cpu_seconds) for r in ordered],
    )


def draw(results: list[WatchResult], args: argparse.Namespace, path: Path, note: str) -> Figure:
    """The service's runs (not the polling design's): latency over web CPU per event, against
    the streams open, into the PNG ``path``."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # the bench extra's, as in plots.figure

    streams, p50, p99, cpu = series(results)
    figure = plots.figure(9, 6)
    latency_axis, cpu_axis = figure.subplots(2, 1, sharex=True)
    latency_axis.plot(streams, p99, "o-", color="tab:red", label="latency p99")
    latency_axis.plot(streams, p50, "o-", color="black", label="latency p50")
    latency_axis.axhline(
        LATENCY_P99_GOAL_MS, color="tab:red", linestyle=":", label=f"p99 goal {LATENCY_P99_GOAL_MS} ms"
    )
    latency_axis.axhline(LATENCY_P50_GOAL_MS, color="black", linestyle=":", label=f"p50 goal {LATENCY_P50_GOAL_MS} ms")
    latency_axis.set_yscale("log")
    # 1, 2, 5, 10, 20, ... written as such, not as 2x10^1
    latency_axis.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    latency_axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    latency_axis.yaxis.set_minor_formatter(NullFormatter())
    shown = [v for v in (*p50, *p99) if v > 0 and not math.isnan(v)]
    latency_axis.set_ylim(min([LATENCY_P50_GOAL_MS, *shown]) / 1.6, 1.6 * max([LATENCY_P99_GOAL_MS, *shown]))
    latency_axis.set_ylabel("write to event read (ms, log)")
    latency_axis.legend(loc="upper left", fontsize=8)
    cpu_axis.plot(streams, cpu, "o-", color="tab:blue", label="web CPU per delivered event")
    cpu_axis.axhline(CPU_PER_EVENT_GOAL_US, color="tab:blue", linestyle=":", label=f"goal {CPU_PER_EVENT_GOAL_US} µs")
    cpu_axis.set_ylim(0, 1.25 * max([CPU_PER_EVENT_GOAL_US, *(c for c in cpu if not math.isnan(c))]))
    cpu_axis.set_ylabel("web CPU / event (µs)")
    cpu_axis.set_xlabel("streams open (SSE watchers)")
    cpu_axis.legend(loc="lower right", fontsize=8)
    cpu_axis.set_xticks(streams)
    cpu_axis.set_xticklabels([f"{n:,}" for n in streams], rotation=30 if len(streams) > 5 else 0, fontsize=8)
    for axis in (latency_axis, cpu_axis):
        axis.grid(alpha=0.3)
    load = results[0].load
    latency_axis.set_title(
        f"bench.fanout: {processes(args)} under {getattr(args, 'server', 'uvicorn')}, {load.tasks} tasks x"
        f" {load.writes_per_task} state writes at {load.rate:g} writes/s",
        fontsize=10,
    )
    plots.save(figure, path, note)
    return figure


def main() -> None:
    args = parse_args()
    limit = raise_fd_limit()
    # Per process: each web process holds its share of the streams, the load client all of them.
    if max([args.watchers, *args.push]) + 200 > limit:
        print(f"note: the file-descriptor limit is {limit} a process; past it, streams will not open")
    note = plots.footnote(" ".join(["scripts/bench fanout", *sys.argv[1:]]))  # the commit and time it starts at
    record, profile = uvloop.run(run(args))
    block = render(record)
    print(block)
    if profile is not None:
        print_profile(args.watchers, profile)
    if args.write_results:
        write_results(ROOT / "docs" / "benchmarks.md", block)
        print("docs/benchmarks.md results block rewritten")
    if args.plot is not None:
        plot, service = args.plot, [r for r in (record.service, *record.pushed) if r is not None]
        plots.draw_and_say(lambda: draw(service, args, plot, note), plot)


if __name__ == "__main__":
    main()

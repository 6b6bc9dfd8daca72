"""The figures of a bench.fanout run as Markdown: printed, and kept in docs/benchmarks.md."""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench import ROOT
from bench.scenario import WatchResult

# The streaming targets (issue 4) the table checks and the plot draws.
LATENCY_P50_GOAL_MS, LATENCY_P99_GOAL_MS, CPU_PER_EVENT_GOAL_US = 10, 50, 20
START, END = "<!-- bench.fanout:start -->", "<!-- bench.fanout:end -->"
SERVICE = "one subscription per process (`app/`)"
POLLING = "each stream polls AsyncResult every 0.5 s (`bench/polling_reference.py`)"
ENDPOINT = "`GET /audio/transcribe/result/<id>` (a running task)"
BARE = "bare Starlette JSON route (`bench/bare_app.py`)"
METHOD = """\
How: one client process (uvloop, raw `asyncio.Protocol`, no HTTP library) opens the watchers,
at most {window:,} of them waiting for their snapshot at a time (first event: from a watcher's
connect to its snapshot; all open in: the whole connect phase, what the last of a crowd that
connects at once waits). A writer process stores `PROGRESS` states round robin over the tasks
with `backend.store_result`, each description carrying `time.time_ns()`; latency is from that
write to the client reading the event. The window runs from the first write to the last event
read: web CPU is utime + stime from `/proc/<pid>/stat` over it, per delivered event; Redis
commands are the `INFO commandstats` difference over it minus the writer's own (one
`store_result` is {writer}, counted on this Redis before the run) and the benchmark's `INFO`;
memory is `VmRSS` with the watchers open minus before they connected, per stream. Events
delivered counts each write's event at each watcher asked for, read within 5 s of the last
write. The polling endpoint and the bare route are loaded alike: {connections} keep-alive
connections, one request in flight on each, two alternating rounds of {seconds:g} s, the better
round of each."""


@dataclass
class Run:
    args: argparse.Namespace
    writer_commands: Counter[str]
    redis_version: str
    endpoint: Throughput | None = None
    bare: Throughput | None = None
    service: WatchResult | None = None
    polling: WatchResult | None = None
    pushed: list[WatchResult] = field(default_factory=list)
    # Above a few tenths, other work shared the two cores with the run.
    load_at_start: float = field(default_factory=lambda: os.getloadavg()[0])


@dataclass(frozen=True)
class Throughput:
    route: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failures: int
    client_cores: float  # the load client's CPU, in cores


def _n(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def _commands(per_event: float) -> str:
    if math.isnan(per_event) or per_event == 0 or per_event >= 0.01:
        return _n(per_event, 2).replace("0.00", "0")
    return f"{per_event:.5f}"


def watch_table(rows: list[WatchResult]) -> list[str]:
    lines = [
        "| design | watchers (open) | events delivered | latency p50 / p99 / max | first event p50 / p99"
        " | all open in | Redis commands / event | web CPU / event | web memory / stream | client CPU / event |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lat, first = r.latency_ms, r.first_event_ms
        commands = r.per_event(sum(r.web_commands.values()))
        lines.append(
            f"| {r.design} | {r.load.watchers:,} ({r.opened:,}) | {100 * r.delivery:.1f} %"
            f" | {_n(lat[0])} / {_n(lat[1])} / {_n(lat[2], 0)} ms | {_n(first[0])} / {_n(first[1])} ms"
            f" | {r.connect_seconds:.1f} s | {_commands(commands)} | {_n(1e6 * r.per_event(r.web_cpu_seconds), 0)} µs"
            f" | {_n(r.bytes_per_stream / 1024)} KB | {_n(1e6 * r.per_event(r.client_cpu_seconds), 0)} µs |"
        )
    return lines


def details(rows: list[WatchResult]) -> list[str]:
    lines = []
    for r in rows:
        cores = f"web {r.web_cpu_seconds / r.window_seconds:.0%}, client {r.client_cpu_seconds / r.window_seconds:.0%}"
        commands = ", ".join(f"{name} {calls}" for name, calls in r.web_commands.most_common()) or "none"
        trouble = f"; ended early {r.ended_early:,}" if r.ended_early else ""
        if len(r.streams_by_process) > 1:
            trouble += "; streams per web process " + " / ".join(f"{n:,}" for n in r.streams_by_process)
        if r.errors:
            trouble += "; not opened: " + ", ".join(f"{what} x{n:,}" for what, n in r.errors.items())
        lines.append(
            f"- {r.design}, {r.load.watchers:,}: window {r.window_seconds:.1f} s, {r.delivered:,} of"
            f" {r.expected:,} events; CPU over the window {cores} of a core; CPU to open each stream: web"
            f" {_n(1e6 * r.web_connect_cpu_seconds / max(r.opened, 1), 0)} µs, client"
            f" {_n(1e6 * r.client_connect_cpu_seconds / max(r.opened, 1), 0)} µs; web commands in the window:"
            f" {commands}{trouble}"
        )
    return lines


def throughput_table(rows: list[Throughput]) -> list[str]:
    lines = ["| route | requests/s | p50 | p99 | client CPU |", "|---|---|---|---|---|"]
    for t in rows:
        failed = f" ({t.failures} failed)" if t.failures else ""
        lines.append(
            f"| {t.route} | {t.requests_per_second:,.0f}{failed} | {t.p50_ms:.2f} ms | {t.p99_ms:.2f} ms"
            f" | {t.client_cores:.0%} of a core |"
        )
    return lines


def ratios(service: WatchResult, polling: WatchResult) -> str:
    def ratio(a: float, b: float) -> str:
        return "-" if not b or math.isnan(a) or math.isnan(b) else f"x{a / b:,.1f}"

    return (
        f"The polling design ({polling.load.watchers:,} watchers) against this service"
        f" ({service.load.watchers:,}), same run: latency p50 {ratio(polling.latency_ms[0], service.latency_ms[0])},"
        f" p99 {ratio(polling.latency_ms[1], service.latency_ms[1])}, web CPU per delivered event"
        f" {ratio(polling.per_event(polling.web_cpu_seconds), service.per_event(service.web_cpu_seconds))}."
    )


def targets(service: WatchResult, endpoint: Throughput, bare: Throughput) -> list[str]:
    share = endpoint.requests_per_second / bare.requests_per_second
    checks = [
        ("events delivered", "100 %", f"{100 * service.delivery:.2f} %", service.delivery >= 1.0),
        (
            "latency p50",
            f"<= {LATENCY_P50_GOAL_MS} ms",
            f"{service.latency_ms[0]:.1f} ms",
            service.latency_ms[0] <= LATENCY_P50_GOAL_MS,
        ),
        (
            "latency p99",
            f"<= {LATENCY_P99_GOAL_MS} ms",
            f"{service.latency_ms[1]:.1f} ms",
            service.latency_ms[1] <= LATENCY_P99_GOAL_MS,
        ),
        (
            f"first event p99, {service.load.connect_window:,} connecting at a time",
            "<= 250 ms",
            f"{service.first_event_ms[1]:,.0f} ms",
            service.first_event_ms[1] <= 250,
        ),
        (
            f"all {service.opened:,} connecting at once: the last snapshot",
            "<= 100 ms",
            f"after {service.connect_seconds:.1f} s",
            service.connect_seconds <= 0.1,
        ),
    ]
    cpu = 1e6 * service.per_event(service.web_cpu_seconds)
    open_ms = 1e3 * service.web_connect_cpu_seconds / max(service.opened, 1)
    commands = service.per_event(sum(service.web_commands.values()))
    kb = service.bytes_per_stream / 1024
    checks += [
        ("web CPU per event", f"<= {CPU_PER_EVENT_GOAL_US} µs", f"{cpu:.0f} µs", cpu <= CPU_PER_EVENT_GOAL_US),
        ("web CPU to open a stream", "<= 0.15 ms", f"{open_ms:.2f} ms", open_ms <= 0.15),
        ("Redis commands per event", "<= 0.001", _commands(commands), commands <= 0.001),
        ("web memory per stream", "<= 20 KB", f"{kb:.1f} KB", kb <= 20),
        ("polling endpoint vs bare route", ">= 70 %", f"{share:.0%}", share >= 0.7),
    ]
    lines = [f"| target at {service.load.watchers:,} watchers | goal | measured | met |", "|---|---|---|---|"]
    lines += [f"| {name} | {goal} | {value} | {'yes' if ok else '**no**'} |" for name, goal, value, ok in checks]
    return lines


def pushing_on(rows: list[WatchResult]) -> str:
    """Where the service stops meeting the targets as the watchers grow, and why."""
    if not rows:
        return ""
    opened = all(r.opened == r.load.watchers for r in rows)
    delivered = all(r.delivery >= 1 for r in rows)
    largest = rows[-1].load.watchers
    said = [
        f"Pushing on to {largest:,} watchers:",
        "every stream opened" if opened else "not every stream opened",
        "and every event was delivered;" if delivered else "and not every event was delivered;",
    ]
    for r in rows:
        misses = []
        if r.opened < r.load.watchers:
            misses.append(f"{r.load.watchers - r.opened:,} streams not opened")
        if r.delivery < 1:
            misses.append(f"{100 * r.delivery:.1f} % delivered")
        if r.latency_ms[1] > LATENCY_P99_GOAL_MS:
            misses.append(f"latency p99 {r.latency_ms[1]:,.0f} ms")
        if misses:
            busy = r.web_cpu_seconds / r.window_seconds
            said.append(f"the first miss is at {r.load.watchers:,} ({', '.join(misses)}; web {busy:.0%} of a core).")
            return " ".join(said)
    return " ".join([*said, "no target missed."])


def write_results(document: Path, block: str, start: str = START, end: str = END) -> None:
    """Put ``block`` between the ``start`` and ``end`` markers of ``document``, nothing else changed."""
    text = document.read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{document} has no {start} ... {end} block to rewrite")
    document.write_text(pattern.sub(lambda _: f"{start}\n{block}\n{end}", text, count=1))


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    return f"{platform.machine()} {model}, {os.cpu_count()} cores, Linux {platform.release()}"


def code_version() -> str:
    """The commit under test, and whether the web side had changes not yet committed."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (
        " with uncommitted changes in live_progress/web/"
        if git("status", "--porcelain", "--", "live_progress/web")
        else ""
    )


def processes(args: argparse.Namespace) -> str:
    n = getattr(args, "web_processes", 1)
    return "one web process" if n == 1 else f"{n} web processes of the service (uvicorn --workers {n}, one port)"


def render(run: Run) -> str:
    service, polling, endpoint, bare = run.service, run.polling, run.endpoint, run.bare
    assert service is not None and polling is not None and endpoint is not None and bare is not None
    load, args = service.load, run.args
    writer = " + ".join(f"{calls} {name.upper()}" for name, calls in sorted(run.writer_commands.items()))
    return "\n".join(
        [
            f"`scripts/bench fanout` measured {time.strftime('%Y-%m-%d')} at commit {code_version()}, on"
            f" {machine()}; Python {platform.python_version()}, Redis {run.redis_version}; {processes(args)} and"
            f" the load client on the same machine, the web under {getattr(args, 'server', 'uvicorn')};"
            f" {load.tasks} tasks x {load.writes_per_task} state writes at"
            f" {load.rate:g} writes/s; load average {run.load_at_start:.1f} when it started (the rest of the"
            f" machine's work), {os.getloadavg()[0]:.1f} when it ended.",
            "",
            *watch_table([service, polling, *run.pushed]),
            "",
            " ".join(filter(None, [ratios(service, polling), pushing_on(run.pushed)])),
            "",
            *throughput_table([endpoint, bare]),
            "",
            *targets(service, endpoint, bare),
            "",
            *details([service, polling, *run.pushed]),
            "",
            METHOD.format(
                window=load.connect_window, writer=writer, connections=args.http_connections, seconds=args.http_seconds
            ),
        ]
    )

"""One long recording on one worker process, split over two, and as the service starts by
default: wall time, speed-up, where each worker's time went, peak memory, and how much the
split transcript differs from the unsplit one.

    scripts/bench long_split [--minutes 10] [--runs 1] [--setups one,split,default,threads,control]
                             [--plot docs/long_split.png]

Starts its own redis-server and one web process; builds a recording of about ``--minutes``
from the committed clips (bench/long_recording.py); then, for each set-up in turn, starts
its workers, warms them up, runs the recording through the service (POST, then SSE to the
result) and stops them. Prints each set-up's wall time (median over the runs), its speed-up
over the first, the pieces each worker process transcribed, the peak RSS of its busiest pool
process, and the word error rate of each transcript against the first set-up's
(bench/wer.py): what cutting the file at pauses costs in words. The control set-up is the
yardstick for that figure: the same recording unsplit, after 1.7 s of silence, so the model's
30-second windows fall elsewhere, as a piece's do; tiny.en on synthetic speech changes words
with its windows alone. For split set-ups, a timeline of each worker process (from its log:
when it claimed each piece and when it finished it): busy, waiting for its first piece, and
idle after its last; and the leader's planning time. ``--plot`` draws the wall times and the
timeline of the default set-up's first run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse

from bench import ROOT
from bench.e2e import WorkerSetup, bench_service, warm_up_folder
from bench.long_recording import build
from bench.measure import peak_rss_bytes
from bench.wer import word_error_rate
from live_progress.launch.processes import Process


@dataclass(frozen=True)
class Setup(WorkerSetup):
    key: str = ""
    shifted: bool = False  # the recording after LEAD seconds of silence


LEAD = 1.7
SETUPS = [
    Setup("1 worker, 1 thread (unsplit)", 1, 1, 1, key="one"),
    Setup("2 workers, 1 thread each, SPLIT_BATCHES=2", 2, 2, 1, key="split"),
    Setup("default: 1 worker, no setting (auto)", 1, None, None, None, key="default"),
    Setup("1 worker, 2 threads (unsplit)", 1, 1, 2, key="threads"),
    Setup(f"control: 1 worker, 1 thread, {LEAD} s later (unsplit)", 1, 1, 1, key="control", shifted=True),
]


@dataclass
class Span:
    """One piece in one worker process: when it was claimed and when it was done (epoch seconds)."""

    worker: str
    piece: str
    claimed: float
    done: float | None = None


@dataclass
class Run:
    wall_s: float
    text: str
    segments: int
    submitted: float = 0.0
    finished: float = 0.0
    spans: list[Span] = field(default_factory=list)
    planned_s: float | None = None
    peak_rss: int = 0  # bytes, the busiest pool process's high-water mark


async def through_service(base_url: str, folder: Path) -> Run:
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30, read=3600)) as client:
        submitted, started = time.time(), time.perf_counter()
        response = await client.post("/audio/transcribe", json={"inputs": {"input_dir": {"path": str(folder)}}})
        response.raise_for_status()
        segments = 0
        async with aconnect_sse(client, "GET", response.json()["events_url"]) as source:
            async for sse in source.aiter_sse():
                if sse.event == "segment":
                    segments += 1
                elif sse.event in {"result", "error"}:
                    assert sse.event == "result", sse.data
                    texts = json.loads(sse.data)["root"]["texts"]
                    break
        wall = time.perf_counter() - started
    assert len(texts) == 1 and texts[0]["subtitle"] is None, texts
    return Run(wall, texts[0]["value"], segments, submitted, submitted + wall)


# Celery's log lines: "[2026-12-05 08:05:26,811: INFO/ForkPoolWorker-1] message".
_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}): \w+/([\w-]+)\] (.*)$", re.MULTILINE)
_CLAIMED = re.compile(r"Claimed (.+) of batch \S+$")
_DONE = re.compile(r"Transcribed (.+) of file \d+ of batch \S+$")
_PLANNED = re.compile(r"Planned batch \S+: \d+ units in ([\d.]+) s$")


def timeline(workers: list[Process], since: float, until: float) -> tuple[list[Span], float | None]:
    """Each piece claimed in ``[since, until]`` by each worker process, from the workers' logs,
    and the leader's planning time."""
    spans: list[Span] = []
    planned: float | None = None
    for worker in workers:
        open_spans: dict[str, Span] = {}
        for stamp, millis, process, message in _LINE.findall(worker.log()):
            at = time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000
            # From the POST on (the warm-up's claims, just before, are not this run's); the
            # stamps are to the millisecond, and a piece's last line may trail the result.
            if not since <= at <= until + 1:
                continue
            name = f"{worker.name}/{process}"
            if claimed := _CLAIMED.search(message):
                open_spans[name] = Span(name, claimed[1], at)
                spans.append(open_spans[name])
            elif _DONE.search(message) and name in open_spans:
                open_spans.pop(name).done = at
            elif plan := _PLANNED.search(message):
                planned = float(plan[1])
    return spans, planned


def describe_timeline(run: Run) -> list[str]:
    """A line per worker process: busy, waiting for its first piece, idle between and after."""
    by_worker: dict[str, list[Span]] = defaultdict(list)
    for span in run.spans:
        by_worker[span.worker].append(span)
    window = run.finished - run.submitted
    lines = [f"    planned in {run.planned_s:.2f} s" if run.planned_s is not None else "    (no planning logged)"]
    for worker, spans in sorted(by_worker.items()):
        done = [s for s in spans if s.done is not None]
        busy = sum(s.done - s.claimed for s in done if s.done is not None)
        first = spans[0].claimed - run.submitted
        last = run.finished - max((s.done for s in done if s.done is not None), default=run.finished)
        between = window - busy - first - last
        lines.append(
            f"    {worker:<28} busy {busy:5.1f} s of {window:.1f} ({busy / window:.0%}), "
            f"{len(done)} pieces; waited {first:.1f} s for its first, idle {between:.1f} s between, "
            f"{last:.1f} s after its last"
        )
    return lines


def peak_rss(workers: list[Process]) -> int:
    """The highest resident set of any pool process of these workers (their VmHWM), in bytes."""
    return max((peak_rss_bytes(worker.popen.pid) for worker in workers), default=0)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=10.0)
    keys = [setup.key for setup in SETUPS]
    parser.add_argument("--setups", default=",".join(keys), help=f"which set-ups, in order: {', '.join(keys)}")
    parser.add_argument("--plot", default=str(ROOT / "docs" / "long_split.png"), help="where to draw; '' for nowhere")
    args = parser.parse_args()
    chosen = [key.strip() for key in args.setups.split(",") if key.strip()]
    unknown = set(chosen) - set(keys)
    if unknown or not chosen:
        parser.error(f"--setups has {args.setups!r}; each must be one of {', '.join(keys)}")
    args.setups = [setup for setup in SETUPS if setup.key in chosen]
    return args


def main() -> None:
    args = parse_args()
    setups: list[Setup] = args.setups
    runs: dict[str, list[Run]] = {setup.key: [] for setup in setups}
    loads: list[float] = []
    with bench_service("long-split") as bench:
        recording, shifted = bench.root / "recording", bench.root / "shifted"
        recording.mkdir()
        shifted.mkdir()
        audio_seconds = build(recording / "long.wav", args.minutes * 60)
        if any(setup.shifted for setup in setups):
            build(shifted / "long.wav", args.minutes * 60, lead=LEAD)
        warm = warm_up_folder(bench.root)
        for number in range(args.runs):
            for setup in setups:
                folder = shifted if setup.shifted else recording
                workers = bench.start_workers(setup.workers, setup.split_batches, setup.cpu_threads, setup.concurrency)
                try:
                    asyncio.run(warm_up(bench.base_url, warm))
                    run = asyncio.run(through_service(bench.base_url, folder))
                    run.spans, run.planned_s = timeline(workers, run.submitted, run.finished)
                    run.peak_rss = peak_rss(workers)
                finally:
                    for worker in workers:
                        worker.stop()
                runs[setup.key].append(run)
                loads.append(os.getloadavg()[0])
                print(
                    f"run {number + 1}/{args.runs} {setup.label}: {run.wall_s:.1f} s, peak worker RSS "
                    f"{run.peak_rss / 2**20:.0f} MB (load average {loads[-1]:.2f})",
                    flush=True,
                )
                if run.spans:
                    print("\n".join(describe_timeline(run)), flush=True)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    print(
        f"\n# bench.long_split on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit.strip()}, "
        f"{platform.machine()}, {os.cpu_count()} cores, one recording of {audio_seconds:.0f} s, runs={args.runs} "
        f"(medians); load average (1 min) after each run: {', '.join(f'{load:.1f}' for load in loads)}"
    )
    reference = runs[setups[0].key][0].text
    base = statistics.median(r.wall_s for r in runs[setups[0].key])
    print(
        f"\n| set-up | wall time | speed-up | real time | peak worker RSS | WER vs {setups[0].key} | words | "
        "pieces per worker process |\n|---|---|---|---|---|---|---|---|"
    )
    for setup in setups:
        done = runs[setup.key]
        wall = statistics.median(r.wall_s for r in done)
        wer = max(word_error_rate(reference, r.text) for r in done)
        shares = "; ".join(_pieces_per_process(r) for r in done if r.spans)
        print(
            f"| {setup.label} | {wall:.1f} s | {base / wall:.2f} | {audio_seconds / wall:.1f}x | "
            f"{max(r.peak_rss for r in done) / 2**20:.0f} MB | {wer:.1%} | {len(done[0].text.split())} | {shares} |"
        )
    if args.plot:
        plot(Path(args.plot), setups, runs, audio_seconds, commit.strip())
        print(f"\nplot: {args.plot}")


def _pieces_per_process(run: Run) -> str:
    counts: dict[str, int] = defaultdict(int)
    for span in run.spans:
        counts[span.worker] += span.done is not None
    return "/".join(str(counts[worker]) for worker in sorted(counts))


def plot(path: Path, setups: list[Setup], runs: dict[str, list[Run]], audio_seconds: float, commit: str) -> None:
    """Wall time per set-up, and the timeline of the first split run (the default set-up's if it ran)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown_key = next((key for key in ("default", "split") if key in runs and runs[key][0].spans), None)
    shown = runs[shown_key][0] if shown_key else None
    figure, axes = plt.subplots(1, 2 if shown else 1, figsize=(13 if shown else 7, 4.5), squeeze=False)
    walls = [statistics.median(r.wall_s for r in runs[setup.key]) for setup in setups]
    bars = axes[0][0]
    colours = ["tab:orange" if setup.key == "default" else "tab:blue" for setup in setups]
    bars.barh([setup.label for setup in setups][::-1], walls[::-1], color=colours[::-1])
    for y, wall in enumerate(walls[::-1]):
        bars.text(wall, y, f" {wall:.1f} s", va="center")
    bars.set_xlabel("wall time, seconds (median)")
    bars.set_title(f"{audio_seconds / 60:.0f}-minute recording, {os.cpu_count()} cores")
    bars.set_xlim(0, max(walls) * 1.25)
    if shown:
        lanes = sorted({span.worker for span in shown.spans})
        gantt = axes[0][1]
        for lane, worker in enumerate(lanes):
            for span in (s for s in shown.spans if s.worker == worker and s.done is not None):
                assert span.done is not None
                gantt.barh(
                    lane,
                    span.done - span.claimed,
                    left=span.claimed - shown.submitted,
                    color="tab:green",
                    edgecolor="white",
                )
        gantt.axvline(shown.finished - shown.submitted, color="black", linestyle="--", label="result")
        if shown.planned_s is not None:
            gantt.axvspan(0, shown.planned_s, color="tab:red", alpha=0.3, label="planning")
        gantt.set_yticks(range(len(lanes)), lanes)
        gantt.set_xlabel("seconds after the POST")
        gantt.set_title(f"{shown_key} set-up, first run: its pieces (green)")
        gantt.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    figure.suptitle(f"scripts/bench long_split, commit {commit}, {time.strftime('%Y-%m-%d')}", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


async def warm_up(base_url: str, folder: Path) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30, read=300)) as client:
        response = await client.post("/audio/transcribe", json={"inputs": {"input_dir": {"path": str(folder)}}})
        response.raise_for_status()
        async with aconnect_sse(client, "GET", response.json()["events_url"]) as source:
            async for sse in source.aiter_sse():
                if sse.event in {"result", "error"}:
                    break


if __name__ == "__main__":
    main()

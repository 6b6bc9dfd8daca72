"""One long recording on one worker process and split over two (issue 14): wall time, speed-up,
and how much the split transcript differs from the unsplit one.

    scripts/bench long_split [--minutes 10] [--runs 1]

Starts its own redis-server and one web process; builds a recording of about ``--minutes``
from the committed clips (bench/long_recording.py); then, for each set-up in turn, starts
its workers (one CTranslate2 thread each unless the set-up says otherwise), warms them up,
runs the recording through the service (POST, then SSE to the result) and stops them.
Prints each set-up's wall time (median over the runs), its speed-up over the first, the
pieces each worker transcribed, and the word error rate of each transcript against the first
set-up's (bench/wer.py): what cutting the file at pauses costs in words. The last set-up is
the control for that figure: the same recording unsplit, after 1.7 s of silence, so the
model's 30-second windows fall elsewhere, as a piece's do; tiny.en on synthetic speech
changes words with its windows alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse

from bench.e2e import WorkerSetup, bench_service, runs_and_minutes, warm_up_folder
from bench.long_recording import build
from bench.wer import word_error_rate
from live_progress.launch.processes import Process


@dataclass(frozen=True)
class Setup(WorkerSetup):
    shifted: bool = False  # the recording after LEAD seconds of silence


LEAD = 1.7
SETUPS = [
    Setup("1 worker, 1 thread (unsplit)", 1, 1, 1),
    Setup("2 workers, 1 thread each, SPLIT_BATCHES=2", 2, 2, 1),
    Setup("1 worker, 2 threads (unsplit)", 1, 1, 2),
    Setup(f"control: 1 worker, 2 threads, {LEAD} s later (unsplit)", 1, 1, 2, shifted=True),
]


@dataclass
class Run:
    wall_s: float
    text: str
    segments: int


async def through_service(base_url: str, folder: Path) -> Run:
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30, read=1800)) as client:
        started = time.perf_counter()
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
    return Run(wall, texts[0]["value"], segments)


def pieces_done(worker: Process) -> int:
    """Pieces of long files this worker transcribed (live_progress/plugins/audio/worker/split.py logs each)."""
    return len(re.findall(r"\] Transcribed \S+ .*, piece \d+ of \d+", worker.log()))


def main() -> None:
    args = runs_and_minutes(__doc__, runs=1, minutes=10.0)
    runs: dict[str, list[Run]] = {setup.label: [] for setup in SETUPS}
    shares: dict[str, list[list[int]]] = {setup.label: [] for setup in SETUPS}
    loads: list[float] = []
    with bench_service("long-split") as bench:
        recording, shifted = bench.root / "recording", bench.root / "shifted"
        recording.mkdir()
        shifted.mkdir()
        audio_seconds = build(recording / "long.wav", args.minutes * 60)
        build(shifted / "long.wav", args.minutes * 60, lead=LEAD)
        warm = warm_up_folder(bench.root)
        for run in range(args.runs):
            for setup in SETUPS:
                folder = shifted if setup.shifted else recording
                result, done = bench.with_workers(
                    setup,
                    lambda: asyncio.run(warm_up(bench.base_url, warm)),
                    lambda folder=folder: asyncio.run(through_service(bench.base_url, folder)),
                    pieces_done,
                )
                shares[setup.label].append(done)
                runs[setup.label].append(result)
                loads.append(os.getloadavg()[0])
                print(
                    f"run {run + 1}/{args.runs} {setup.label}: {result.wall_s:.1f} s "
                    f"(load average {os.getloadavg()[0]:.2f})",
                    flush=True,
                )

    print(
        f"\n# bench.long_split on {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
        f"one recording of {audio_seconds:.0f} s, runs={args.runs} (medians); load average (1 min) after "
        f"each run: {', '.join(f'{load:.1f}' for load in loads)}"
    )
    reference = runs[SETUPS[0].label][0].text
    base = statistics.median(r.wall_s for r in runs[SETUPS[0].label])
    for setup in SETUPS:
        wall = statistics.median(r.wall_s for r in runs[setup.label])
        wer = max(word_error_rate(reference, r.text) for r in runs[setup.label])
        pieces = ""
        if setup.split_batches > 1:
            pieces = "; pieces per worker: " + ", ".join("/".join(map(str, share)) for share in shares[setup.label])
        print(
            f"  {setup.label:<44} {wall:7.1f} s  x{base / wall:.2f}  {audio_seconds / wall:5.1f}x real time  "
            f"WER vs first {wer:.1%}  words {len(runs[setup.label][0].text.split())}{pieces}"
        )


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

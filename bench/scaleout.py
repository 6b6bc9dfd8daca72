"""Scaling out (issue 7): the same batch with 1 and with 2 worker processes; the speed-up.

    scripts/bench scaleout [--runs 3] [--minutes 3]

Starts its own redis-server and one web process; builds a batch of about ``--minutes`` of
speech from the committed clips (as bench.e2e does); then, alternating the set-ups so each
sees the same noise, starts the set-up's workers (concurrency 1 each), warms them up, runs
the batch through the service (POST, then SSE to the result) and stops them. Prints the
median wall times and the speed-up of each set-up over the first.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time

from bench.e2e import WorkerSetup, bench_service, build_batch, runs_and_minutes, through_service, warm_up_folder
from live_progress.launch.processes import Process
from live_progress.plugins.audio.worker.transcription import find_audio_files

SETUPS = [
    WorkerSetup("1 worker, whole batch, 4 threads (CTranslate2's default)", 1, 1, 4),
    WorkerSetup("1 worker, whole batch, 1 thread", 1, 1, 1),
    WorkerSetup("1 worker, whole batch, 2 threads", 1, 1, 2),
    WorkerSetup("2 workers, split batch, 1 thread each", 2, 2, 1),
    WorkerSetup("2 workers, split batch, 4 threads each (CTranslate2's default)", 2, 2, 4),
    WorkerSetup("the service's defaults: 1 worker, all settings unset", 1, None, None, None),
]


def files_done(worker: Process) -> int:
    """Files this worker transcribed as part of a split batch (the audio worker's split.py logs each)."""
    return worker.log().count("] Transcribed ")


def main() -> None:
    args = runs_and_minutes(__doc__, runs=3, minutes=3.0)
    walls: dict[str, list[float]] = {setup.label: [] for setup in SETUPS}
    shares: dict[str, list[list[int]]] = {setup.label: [] for setup in SETUPS}
    with bench_service("scaleout") as bench:
        batch = bench.root / "batch"
        batch.mkdir()
        audio_seconds = build_batch(batch, args.minutes * 60)
        warm = warm_up_folder(bench.root)
        for run in range(args.runs):
            for setup in SETUPS:
                figures, done = bench.with_workers(
                    setup,
                    lambda: asyncio.run(through_service(bench.base_url, warm)),
                    lambda: asyncio.run(through_service(bench.base_url, batch)),
                    files_done,
                )
                shares[setup.label].append(done)
                walls[setup.label].append(figures["wall_s"])
                print(f"run {run + 1}/{args.runs} {setup.label}: {figures['wall_s']:.2f} s", flush=True)
        files = len(find_audio_files(batch))

    print(
        f"\n# bench.scaleout on {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
        f"{files} files, {audio_seconds:.0f} s of audio, runs={args.runs} (medians); "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    base = statistics.median(walls[SETUPS[0].label])
    for setup in SETUPS:
        wall = statistics.median(walls[setup.label])
        split = ""
        if setup.split_batches != 1:
            split = "; files per worker: " + ", ".join("/".join(map(str, share)) for share in shares[setup.label])
        print(f"  {setup.label:<50} {wall:7.2f} s  x{base / wall:.2f}{split}")


if __name__ == "__main__":
    main()

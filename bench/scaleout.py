"""Scaling out (issue 7): the same batch with 1 and with 2 worker processes; the speed-up.

    scripts/bench scaleout [--runs 3] [--minutes 3]

Starts its own redis-server and one web process; builds a batch of about ``--minutes`` of
speech from the committed clips (as bench.e2e does); then, alternating the set-ups so each
sees the same noise, starts the set-up's workers (concurrency 1 each), warms them up, runs
the batch through the service (POST, then SSE to the result) and stops them. Prints the
median wall times and the speed-up of each set-up over the first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.e2e import bench_env, build_batch, through_service, warm_up_folder
from launch.processes import Process, start_web, start_worker
from launch.redis_server import RedisServer
from worker.transcription import find_audio_files


@dataclass(frozen=True)
class Setup:
    label: str
    workers: int
    split_batches: int
    cpu_threads: int  # per worker process; 0 is CTranslate2's default (4)


SETUPS = [
    Setup("1 worker, whole batch, default threads (4)", 1, 1, 0),
    Setup("1 worker, whole batch, 1 thread", 1, 1, 1),
    Setup("1 worker, whole batch, 2 threads", 1, 1, 2),
    Setup("2 workers, split batch, 1 thread each", 2, 2, 1),
    Setup("2 workers, split batch, default threads (4 each)", 2, 2, 0),
]


def start_workers(setup: Setup, env: dict[str, str], logs: Path) -> list[Process]:
    worker_env = {**env, "SPLIT_BATCHES": str(setup.split_batches), "WHISPER_CPU_THREADS": str(setup.cpu_threads)}
    return [start_worker(worker_env, logs, name=f"worker-{n}") for n in range(setup.workers)]


def files_done(worker: Process) -> int:
    """Files this worker transcribed as part of a split batch (worker/split.py logs each)."""
    return worker.log().count("] Transcribed ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()

    walls: dict[str, list[float]] = {setup.label: [] for setup in SETUPS}
    shares: dict[str, list[list[int]]] = {setup.label: [] for setup in SETUPS}
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp, RedisServer() as redis:
        root = Path(tmp)
        batch = root / "batch"
        batch.mkdir()
        audio_seconds = build_batch(batch, args.minutes * 60)
        warm = warm_up_folder(root)
        env = bench_env(root, redis.url)
        logs = root / "logs"
        web, base_url = start_web(env, logs)
        try:
            for run in range(args.runs):
                for setup in SETUPS:
                    workers = start_workers(setup, env, logs)
                    try:
                        asyncio.run(through_service(base_url, warm))
                        before = [files_done(w) for w in workers]
                        figures = asyncio.run(through_service(base_url, batch))
                        shares[setup.label].append([files_done(w) - b for w, b in zip(workers, before, strict=True)])
                    finally:
                        for worker in workers:
                            worker.stop()
                    walls[setup.label].append(figures["wall_s"])
                    print(f"run {run + 1}/{args.runs} {setup.label}: {figures['wall_s']:.2f} s", flush=True)
        finally:
            web.stop()
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
        if setup.split_batches > 1:
            split = "; files per worker: " + ", ".join("/".join(map(str, share)) for share in shares[setup.label])
        print(f"  {setup.label:<50} {wall:7.2f} s  x{base / wall:.2f}{split}")


if __name__ == "__main__":
    main()

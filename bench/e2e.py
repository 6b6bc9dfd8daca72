"""End-to-end figures: POST to first progress event, the service's overhead, events per batch.

    .venv/bin/python -m bench.e2e [--runs 3] [--minutes 2]

Starts its own redis-server, Celery worker and uvicorn; builds a batch of about
``--minutes`` of speech from the committed clips; runs it ``--runs`` times through the
service (SSE) and the same files straight through faster-whisper, and prints medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
from httpx_sse import aconnect_sse

from bench import ROOT
from live_progress.launch.processes import Process, start_web, start_worker
from live_progress.launch.redis_server import RedisServer
from live_progress.plugins.audio.worker.model import load_model
from live_progress.plugins.audio.worker.transcription import find_audio_files, probe_duration

DATA = ROOT / "tests" / "data"
T = TypeVar("T")
CLIPS = [
    DATA / "long" / "story.mp3",
    DATA / "batch" / "weather.mp3",
    DATA / "batch" / "train.WAV",
    DATA / "batch" / "sub" / "cooking.flac",
    DATA / "with_corrupt" / "good.ogg",
]


def build_batch(folder: Path, seconds: float) -> float:
    """Copies of the clips until the folder holds ``seconds`` of audio; returns the total."""
    total, n = 0.0, 0
    while total < seconds:
        clip = CLIPS[n % len(CLIPS)]
        shutil.copy(clip, folder / f"{n:03d}-{clip.name}")
        total += probe_duration(clip)
        n += 1
    return total


def warm_up_folder(root: Path) -> Path:
    """A folder of a few short files under ``root``: enough files that every worker of a split
    set-up gets one and loads its model before the timed run."""
    warm = root / "warm"
    warm.mkdir()
    for n in range(4):
        shutil.copy(DATA / "batch" / "weather.mp3", warm / f"{n}-weather.mp3")
    return warm


def bench_env(root: Path, redis_url: str) -> dict[str, str]:
    """The service's environment for a benchmark whose audio (and transcripts) are under ``root``."""
    return {**os.environ, "REDIS_URL": redis_url, "ALLOWED_ROOTS": str(root), "TRANSCRIPTS_DIR": str(root / "fb")}


def runs_and_minutes(doc: str, runs: int, minutes: float) -> argparse.Namespace:
    """The command line of a benchmark that runs ``--runs`` times a batch of ``--minutes`` of audio."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--minutes", type=float, default=minutes)
    return parser.parse_args()


@dataclass(frozen=True)
class BenchService:
    """A benchmark's own Redis and web process, and a folder for its audio and logs."""

    root: Path
    env: dict[str, str]
    logs: Path
    base_url: str

    def start_workers(
        self, count: int = 1, split_batches: int | None = 1, cpu_threads: int | None = 1, concurrency: int | None = 1
    ) -> list[Process]:
        """``count`` worker processes of ``concurrency`` pool processes each; None leaves a
        setting at the service's default (the cores shared out: live_progress/cores.py)."""
        settings = {"SPLIT_BATCHES": split_batches, "WHISPER_CPU_THREADS": cpu_threads}
        env = {key: value for key, value in self.env.items() if key not in (*settings, "WORKER_CONCURRENCY")}
        env.update({key: str(value) for key, value in settings.items() if value is not None})
        return [start_worker(env, self.logs, f"worker-{n}", concurrency) for n in range(count)]

    def with_workers(
        self, setup: WorkerSetup, warm_up: Callable[[], object], run: Callable[[], T], done: Callable[[Process], int]
    ) -> tuple[T, list[int]]:
        """Starts the set-up's workers, warms them up, then ``run``s; returns what it returned and
        the work each worker did in it (by ``done``, a count read off a worker), workers stopped."""
        workers = self.start_workers(setup.workers, setup.split_batches, setup.cpu_threads, setup.concurrency)
        try:
            warm_up()
            before = [done(worker) for worker in workers]
            result = run()
            return result, [done(worker) - b for worker, b in zip(workers, before, strict=True)]
        finally:
            for worker in workers:
                worker.stop()


@dataclass(frozen=True)
class WorkerSetup:
    """Workers for a run: how many worker processes, SPLIT_BATCHES, WHISPER_CPU_THREADS and
    WORKER_CONCURRENCY (pool processes of each); None: the service's default for it."""

    label: str
    workers: int
    split_batches: int | None
    cpu_threads: int | None
    concurrency: int | None = 1


@contextlib.contextmanager
def bench_service(name: str) -> Iterator[BenchService]:
    """A redis-server and the Procfile's web process, in a temporary folder, for as long as the block runs."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp, RedisServer() as redis:
        root = Path(tmp)
        env = bench_env(root, redis.url)
        web, base_url = start_web(env, root / "logs")
        try:
            yield BenchService(root, env, root / "logs", base_url)
        finally:
            web.stop()


async def through_service(base_url: str, folder: Path) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30, read=600)) as client:
        started = time.perf_counter()
        response = await client.post("/audio/transcribe", json={"inputs": {"input_dir": {"path": str(folder)}}})
        response.raise_for_status()
        accepted = time.perf_counter()
        first_progress = first_file = None
        progress_events = 0
        async with aconnect_sse(client, "GET", response.json()["events_url"]) as source:
            async for sse in source.aiter_sse():
                if sse.event == "progress":
                    progress_events += 1
                    first_progress = first_progress or time.perf_counter()
                    if first_file is None and "Transcribing" in sse.data:
                        first_file = time.perf_counter()
                elif sse.event in {"result", "error"}:
                    assert sse.event == "result", sse.data
                    assert len(json.loads(sse.data)["root"]["texts"]) == len(find_audio_files(folder))
                    break
        done = time.perf_counter()
    assert first_progress is not None and first_file is not None
    return {
        "first_file_ms": (first_file - started) * 1000,
        "accepted_ms": (accepted - started) * 1000,
        "first_progress_ms": (first_progress - started) * 1000,
        "wall_s": done - started,
        "progress_events": progress_events,
    }


def directly(folder: Path) -> float:
    """The same files through faster-whisper in this process, model already loaded."""
    model = load_model()
    started = time.perf_counter()
    for path in find_audio_files(folder):
        segments, _ = model.transcribe(str(path))
        for _ in segments:
            pass
    return time.perf_counter() - started


def main() -> None:
    args = runs_and_minutes(__doc__, runs=3, minutes=2.0)
    with bench_service("e2e") as bench:
        root, base_url = bench.root, bench.base_url
        batch, small = root / "batch", root / "small"
        batch.mkdir()
        small.mkdir()
        audio_seconds = build_batch(batch, args.minutes * 60)
        shutil.copy(DATA / "batch" / "weather.mp3", small)
        [worker] = bench.start_workers()
        try:
            cold = asyncio.run(through_service(base_url, small))  # loads the model in the worker
            warm = [asyncio.run(through_service(base_url, small)) for _ in range(args.runs)]
            # Alternated, so both see the same noise from whatever else the machine does.
            service, direct = [], []
            for _ in range(args.runs):
                service.append(asyncio.run(through_service(base_url, batch)))
                direct.append(directly(batch))
        finally:
            worker.stop()
        files = len(find_audio_files(batch))

    def median(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    service_wall, direct_wall = median(service, "wall_s"), statistics.median(direct)
    print(
        f"# bench.e2e on {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
        f"runs={args.runs} (medians)"
    )
    print(f"POST answered (202):                     {median(warm, 'accepted_ms'):8.1f} ms")
    print(f"POST to first progress event, warm:      {median(warm, 'first_progress_ms'):8.1f} ms")
    print(f"POST to first 'Transcribing' event, warm:{median(warm, 'first_file_ms'):8.1f} ms")
    print(f"POST to first progress event, cold model:{cold['first_progress_ms']:8.1f} ms (first task of a worker)")
    print(f"POST to first 'Transcribing', cold model:{cold['first_file_ms']:8.1f} ms (loads the model)")
    print(f"batch: {files} files, {audio_seconds:.1f} s of audio")
    print(f"  through the service (POST to result):  {service_wall:8.2f} s")
    print(f"  faster-whisper called directly:        {direct_wall:8.2f} s")
    print(
        f"  service overhead:                      {service_wall - direct_wall:8.2f} s "
        f"({100 * (service_wall / direct_wall - 1):.1f} %)"
    )
    print(f"  progress events received over SSE:     {median(service, 'progress_events'):8.0f}")


if __name__ == "__main__":
    main()

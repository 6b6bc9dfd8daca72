"""From a segment decoded to a client reading it: the live results' delay.

    .venv/bin/python -m bench.segment_latency [--minutes 2] [--watchers 1]

Starts its own redis-server, Celery worker and uvicorn, runs a batch of about ``--minutes``
of speech from the committed clips, and reads its stream with ``--watchers`` clients. A
segment's entry id in the task's Redis Stream is the Redis clock (ms) when the worker
appended it, right after the model yielded it; the delay is from then to a client reading
the event (client and Redis on one machine, one clock). Prints p50, p99 and max.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse

from bench.e2e import build_batch
from live_progress.launch.processes import start_web, start_worker
from live_progress.launch.redis_server import RedisServer


async def watch(client: httpx.AsyncClient, url: str) -> list[float]:
    delays = []
    async with aconnect_sse(client, "GET", url) as source:
        async for sse in source.aiter_sse():
            if sse.event == "segment":
                read_ms = time.time() * 1000
                appended_ms = int(sse.id.rsplit("/", 1)[-1].split("-")[0])
                delays.append(read_ms - appended_ms)
            elif sse.event in ("result", "error") and sse.data:
                return delays
    return delays


async def run(base_url: str, folder: Path, watchers: int) -> list[float]:
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30, read=600)) as client:
        response = await client.post("/audio/transcribe", json={"inputs": {"input_dir": {"path": str(folder)}}})
        response.raise_for_status()
        url = response.json()["events_url"]
        results = await asyncio.gather(*(watch(client, url) for _ in range(watchers)))
    return [delay for delays in results for delay in delays]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--watchers", type=int, default=1)
    args = parser.parse_args()
    with RedisServer() as redis, tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "batch"
        folder.mkdir()
        seconds = build_batch(folder, args.minutes * 60)
        env = {**os.environ, "REDIS_URL": redis.url, "ALLOWED_ROOTS": scratch, "WORKER_METRICS_PORT": "0"}
        logs = Path(scratch) / "logs"
        worker = start_worker(env, logs)
        web, base_url = start_web(env, logs)
        try:
            asyncio.run(run(base_url, folder, 1))  # warm up: the model loads
            delays = sorted(asyncio.run(run(base_url, folder, args.watchers)))
        finally:
            web.stop()
            worker.stop()
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    print(
        f"{len(delays)} segment events ({seconds:.0f} s of audio, {args.watchers} watcher(s)); "
        f"appended to read: p50 {statistics.median(delays):.1f} ms, p99 {p99:.1f} ms, max {delays[-1]:.1f} ms; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(json.dumps({"p50_ms": statistics.median(delays), "p99_ms": p99, "max_ms": delays[-1], "n": len(delays)}))


if __name__ == "__main__":
    main()

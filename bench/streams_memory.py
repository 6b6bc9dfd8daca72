"""The web process's memory for clients that follow 12 jobs each: one multi-task stream per
client against 12 single-task streams per client.

``scripts/bench streams_memory [--clients 1 100]``: starts its own redis-server and, for each
design and each client count, a fresh web process (memory a process has touched is not given
back, so each measurement gets its own). No worker: the 12 tasks stay queued, so every stream
stays open. Prints the web's VmRSS once every stream has had its first event, minus its
VmRSS before they connected (after one stream of each kind opened and closed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

from live_progress.launch.processes import start_web, wait_for
from live_progress.launch.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
JOBS = 12


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def submit(base_url: str, folder: Path) -> str:
    body = json.dumps({"inputs": {"input_dir": {"path": str(folder)}}}).encode()
    request = Request(f"{base_url}/audio/transcribe", body, {"Content-Type": "application/json"}, method="POST")
    with urlopen(request, timeout=10) as response:
        return str(json.load(response)["task_id"])


def open_streams(base_url: str) -> int:
    with urlopen(f"{base_url}/healthz", timeout=10) as response:
        return int(json.load(response)["streams"])


async def open_stream(host: str, port: int, path: str) -> asyncio.StreamWriter:
    """A raw HTTP/1.1 stream, returned once its first event has arrived."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
    received = b""
    while b"\nevent: " not in received:
        chunk = await reader.read(65536)
        if not chunk:
            raise RuntimeError(f"{path} ended early: {received[:300]!r}")
        received += chunk
    return writer


async def hold(base_url: str, paths: list[str], pid: int) -> int:
    """Opens every path, reads the web's RSS with them all open, closes them."""
    url = urlsplit(base_url)
    assert url.hostname and url.port
    writers = []
    for at in range(0, len(paths), 200):
        writers += await asyncio.gather(*(open_stream(url.hostname, url.port, p) for p in paths[at : at + 200]))
    wait_for(lambda: open_streams(base_url) == len(paths), 30, "every stream to be open")
    rss = rss_kb(pid)
    for writer in writers:
        writer.close()
    return rss


def measure(env: dict[str, str], folder: Path, design: str, clients: int, log_dir: Path) -> tuple[int, int]:
    web, base_url = start_web(env, log_dir, name=f"web-{design}-{clients}")
    try:
        task_ids = [submit(base_url, folder) for _ in range(JOBS)]
        multi = "/audio/transcribe/events?" + urlencode([("task_id", t) for t in task_ids])
        singles = [f"/audio/transcribe/events/{t}" for t in task_ids]
        # Warm up: every code path once, so the figure is the streams' and not first use.
        asyncio.run(hold(base_url, [multi, singles[0]], web.popen.pid))
        wait_for(lambda: open_streams(base_url) == 0, 30, "the warm-up streams to close")
        before = rss_kb(web.popen.pid)
        paths = [multi] * clients if design == "one stream" else singles * clients
        with_streams = asyncio.run(hold(base_url, paths, web.popen.pid))
        return len(paths), with_streams - before
    finally:
        web.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 100])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, RedisServer() as redis:
        folder = Path(tmp) / "audio"
        folder.mkdir()
        shutil.copy(ROOT / "tests" / "data" / "batch" / "weather.mp3", folder)
        env = {**os.environ, "REDIS_URL": redis.url, "ALLOWED_ROOTS": tmp, "MAX_STREAMS": "100000"}
        print(f"Web memory (VmRSS) for clients that follow {JOBS} queued jobs each")
        print("| clients | design | streams | web RSS added | per client |")
        print("|---|---|---|---|---|")
        for clients in args.clients:
            for design in ("one stream", "a stream per job"):
                streams, added = measure(env, folder, design, clients, Path(tmp) / "logs")
                print(f"| {clients} | {design} | {streams} | {added:,} KB | {added / clients:,.0f} KB |", flush=True)


if __name__ == "__main__":
    main()

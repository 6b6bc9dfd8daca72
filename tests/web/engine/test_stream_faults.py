"""Streams under stress with real processes: a stalled client, SIGTERM with 1,000 open streams."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from celery import Celery

from live_progress.contract import PROGRESS_STATE, celery_config, progress_meta
from live_progress.launch.processes import Process, start_web
from live_progress.launch.redis_server import RedisServer
from live_progress.worker.heartbeat import Heartbeats
from tests.conftest import ARTIFACTS
from tests.support.clients import read_events
from tests.support.eventually import eventually

pytestmark = pytest.mark.integration

SEND_TIMEOUT = 10


@pytest.fixture(scope="module")
def stress_env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    # A database no worker listens on: the tests write the task states themselves. A stalled
    # client is cut off after SEND_TIMEOUT: long enough that on a busy machine the others have
    # had everything before that, when nothing makes them wait for it.
    return {**service_env, "REDIS_URL": redis_server.database_url(7), "SSE_SEND_TIMEOUT": str(SEND_TIMEOUT)}


@pytest.fixture
def stress_web(stress_env: dict[str, str]) -> Iterator[tuple[Process, str]]:
    process, base_url = start_web(stress_env, ARTIFACTS, name="web-stress")
    yield process, base_url
    process.stop()


def submit(base_url: str, audio_root: Path) -> dict[str, str]:
    response = httpx.post(f"{base_url}/audio/transcribe", json={"inputs": {"input_dir": {"path": str(audio_root)}}})
    assert response.status_code == 202
    return response.json()


async def open_raw_stream(base_url: str, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream read by hand, so a test decides when (and whether) to read."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return reader, writer


async def streams_open(base_url: str) -> int:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{base_url}/healthz")).json()["streams"]


async def test_a_stalled_client_does_not_delay_others_and_is_cut_off(
    stress_web: tuple[Process, str], stress_env: dict[str, str], audio_root: Path
) -> None:
    _, base_url = stress_web
    task = submit(base_url, audio_root / "batch")
    backend = Celery(
        "writer", config_source=celery_config(stress_env["REDIS_URL"], stress_env["REDIS_URL"], 600)
    ).backend
    heartbeats = Heartbeats(lambda: backend.client, ttl=30)
    heartbeats.started(task["task_id"])

    stalled_reader, stalled_writer = await open_raw_stream(base_url, task["events_url"])
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        reading = asyncio.create_task(read_events(client, task["events_url"]))
        while await streams_open(base_url) < 2:
            await asyncio.sleep(0.02)

        padding = "x" * 8192  # fills the stalled client's socket buffers quickly

        def write_states() -> None:
            for step in range(1500):
                meta = progress_meta(step * 99 // 1500, f"step {step}", padding=padding)
                backend.store_result(task["task_id"], meta, PROGRESS_STATE)
            backend.store_result(task["task_id"], {"output_type": "batchtext", "texts": []}, "SUCCESS")

        await asyncio.to_thread(write_states)
        events = await asyncio.wait_for(reading, 60)
        # The reader has everything while the stalled stream is still there (not yet cut off):
        # nothing made it wait for the stalled one.
        still_open = await streams_open(base_url)
    heartbeats.finished(task["task_id"])

    assert events[-1].event == "result"
    assert still_open >= 1, "the reading client got its result only once the stalled one was cut off"

    # The stalled client is cut off after SSE_SEND_TIMEOUT without a send going through.
    async def stalled_cut_off() -> bool:
        return await streams_open(base_url) == 0

    await eventually(stalled_cut_off, timeout=SEND_TIMEOUT + 60, what="the stalled stream cut off")
    stalled_writer.close()


async def test_sigterm_with_1000_open_streams_exits_within_10_s(
    stress_web: tuple[Process, str], audio_root: Path
) -> None:
    process, base_url = stress_web
    task = submit(base_url, audio_root / "batch")  # stays queued: no worker here

    async def watch() -> bytes:
        reader, writer = await open_raw_stream(base_url, task["events_url"])
        try:
            return await reader.read()  # everything until the server closes the stream
        finally:
            writer.close()

    watchers = []
    for _ in range(10):
        watchers += [asyncio.create_task(watch()) for _ in range(100)]
        await asyncio.sleep(0.05)

    async def all_open() -> bool:
        return await streams_open(base_url) >= 1000

    await eventually(all_open, timeout=30, what="1000 streams open")

    started = time.monotonic()
    process.popen.send_signal(signal.SIGTERM)
    await asyncio.to_thread(process.popen.wait, 60)
    took = time.monotonic() - started
    bodies = await asyncio.wait_for(asyncio.gather(*watchers), 60)

    # The contract's bound: "the web process closes its streams and exits within 10 s".
    assert took <= 10, f"the web process took {took:.1f} s to exit"
    # Closed, not dropped: each response ended by the server (the last chunk of a chunked body)
    # with neither a result nor an error, so an EventSource reconnects after the retry: it was
    # sent first.
    for body in bodies:
        assert re.match(rb"[0-9a-f]+\r\nretry: \d+\n", body), body[:100]
        assert body.endswith(b"0\r\n\r\n"), f"a stream was dropped, not ended: {body[-100:]!r}"
        assert b"event: result" not in body and b"event: error" not in body, body[-300:]
    print(f"SIGTERM with 1000 open streams: exited in {took:.2f} s")

"""Faults with real processes: a worker killed in the middle of a task."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from live_progress.launch.processes import Process, start_web, start_worker
from live_progress.launch.redis_server import RedisServer
from tests.conftest import ARTIFACTS
from tests.support.clients import read_events, submit
from tests.support.eventually import eventually

pytestmark = pytest.mark.integration

LOST_AFTER = 3.0
LOST_ON_A_STORY = r"Task failed: worker lost \(attempt 1 on story-\d\.mp3\)"


@pytest.fixture(scope="module")
def fault_env(redis_server: RedisServer, audio_root: Path, service_env: dict[str, str]) -> dict[str, str]:
    # A database of its own on the session's Redis, so the other tests' worker never takes these tasks.
    url = redis_server.database_url(24)
    # MAX_TASK_ATTEMPTS=1: a task whose worker dies fails at once, as before takeovers (test_takeover.py).
    return {**service_env, "REDIS_URL": url, "WORKER_LOST_AFTER": str(LOST_AFTER), "MAX_TASK_ATTEMPTS": "1"}


@pytest.fixture(scope="module")
def fault_web(fault_env: dict[str, str]) -> Iterator[str]:
    process, base_url = start_web(fault_env, ARTIFACTS, name="web-faults")
    yield base_url
    process.stop()


@pytest.fixture
def fault_worker(fault_env: dict[str, str]) -> Iterator[Process]:
    process = start_worker(fault_env, ARTIFACTS, name="worker-faults")
    yield process
    process.stop()


@pytest.fixture
async def client(fault_web: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fault_web, timeout=httpx.Timeout(30, read=90)) as client:
        yield client


async def wait_until_transcribing(client: httpx.AsyncClient, result_url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        root = (await client.get(result_url)).json()["root"]
        if root.get("title") == "progress" and root["description"].startswith("Transcribing"):
            return
        assert time.monotonic() < deadline, root
        await asyncio.sleep(0.05)


def pool_children(worker: Process) -> list[int]:
    path = Path(f"/proc/{worker.popen.pid}/task/{worker.popen.pid}/children")
    return [int(pid) for pid in path.read_text().split()]


async def test_with_one_attempt_killing_the_whole_worker_ends_every_stream_with_worker_lost(
    client: httpx.AsyncClient, fault_worker: Process, audio_root: Path
) -> None:
    task = await submit(client, audio_root / "many")
    await wait_until_transcribing(client, task["result_url"])

    snapshots = [asyncio.Event() for _ in range(3)]
    watching = [asyncio.create_task(read_events(client, task["events_url"], first=got)) for got in snapshots]
    await asyncio.wait_for(asyncio.gather(*(got.wait() for got in snapshots)), 30)  # each has its snapshot
    killed = time.monotonic()
    fault_worker.kill_group(signal.SIGKILL)

    results = await asyncio.wait_for(asyncio.gather(*watching), LOST_AFTER * 4)
    took = time.monotonic() - killed
    for events in results:
        assert events[-1].event == "error"
        assert re.fullmatch(
            r"Task failed: worker lost \(attempt 1 on story-\d\.mp3\)", events[-1].data["root"]["value"]
        )
        assert events[-1].data == results[0][-1].data
    assert (await client.get(task["result_url"])).json() == results[0][-1].data
    print(f"streams ended {took:.1f} s after kill -9 of the worker (WORKER_LOST_AFTER={LOST_AFTER})")


async def test_killing_the_pool_process_reports_worker_lost(
    client: httpx.AsyncClient, fault_worker: Process, audio_root: Path
) -> None:
    task = await submit(client, audio_root / "many")
    await wait_until_transcribing(client, task["result_url"])
    for pid in pool_children(fault_worker):
        os.kill(pid, signal.SIGKILL)
    events = await read_events(client, task["events_url"])
    assert re.fullmatch(LOST_ON_A_STORY, events[-1].data["root"]["value"])
    assert fault_worker.alive()


async def test_a_finished_task_stops_beating_and_its_heartbeat_expires(
    client: httpx.AsyncClient, fault_worker: Process, fault_env: dict[str, str], audio_root: Path
) -> None:
    task = await submit(client, audio_root / "batch")
    events = await read_events(client, task["events_url"])
    assert events[-1].event == "result"
    redis = Redis.from_url(fault_env["REDIS_URL"])
    key = f"live-progress:alive:{task['task_id']}"
    try:
        assert 0 < redis.pttl(key) <= LOST_AFTER * 1000
        # Beats every quarter of LOST_AFTER would keep renewing it: it never expires then.
        await eventually(lambda: redis.pttl(key) == -2, timeout=LOST_AFTER * 4, what="the heartbeat to expire")
    finally:
        redis.close()


async def test_cancelling_a_running_task_stops_it_and_it_stays_cancelled(
    client: httpx.AsyncClient, fault_worker: Process, audio_root: Path
) -> None:
    """Cancel, read at once and keep reading: 'Task cancelled', never a lost worker; and once
    the worker has gone on to other work, still cancelled (the task really stopped)."""
    cancelled = []
    for _ in range(3):
        task = await submit(client, audio_root / "many")
        await wait_until_transcribing(client, task["result_url"])
        assert (await client.delete(f"/audio/transcribe/{task['task_id']}")).status_code == 202
        deadline = time.monotonic() + 20
        while (root := (await client.get(task["result_url"])).json()["root"]).get("title") == "progress":
            assert time.monotonic() < deadline
        assert root["value"] == "Task cancelled", root
        events = await read_events(client, task["events_url"])
        assert events[-1].data["root"]["value"] == "Task cancelled"
        cancelled.append(task)

    after = await submit(client, audio_root / "batch")  # runs once the worker is free again
    assert (await read_events(client, after["events_url"]))[-1].event == "result"
    for task in cancelled:
        assert (await client.get(task["result_url"])).json()["root"]["value"] == "Task cancelled"

"""A worker that runs none of this project's code writes the progress: the stream tells the truth."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from live_progress.launch.processes import Process, start_web, wait_for
from live_progress.launch.redis_server import RedisServer
from tests.conftest import ARTIFACTS
from tests.support.clients import percents, read_events, submit

pytestmark = pytest.mark.integration

LOST_AFTER = 2.0


@pytest.fixture(scope="module")
def foreign_env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    # A database of its own, so no worker of this project ever takes these tasks.
    url = redis_server.database_url(17)
    return {**service_env, "REDIS_URL": url, "WORKER_LOST_AFTER": str(LOST_AFTER)}


@pytest.fixture(scope="module")
def web(foreign_env: dict[str, str]) -> Iterator[str]:
    process, base_url = start_web(foreign_env, ARTIFACTS, name="web-foreign")
    yield base_url
    process.stop()


def start_foreign_worker(env: dict[str, str], **settings: str) -> Process:
    process = Process(
        "worker-foreign",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.support.foreign_worker",
            "worker",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        {**env, **settings},
        ARTIFACTS,
    )
    wait_for(lambda: "ready." in process.log() or not process.alive(), 60, "the foreign worker")
    assert process.alive(), process.log()
    return process


@pytest.fixture
async def client(web: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web, timeout=httpx.Timeout(30, read=60)) as client:
        yield client


async def test_progress_written_by_a_foreign_worker_streams_to_its_result(
    client: httpx.AsyncClient, foreign_env: dict[str, str], audio_root: Path
) -> None:
    # Writes for four times WORKER_LOST_AFTER, without a heartbeat.
    worker = start_foreign_worker(foreign_env, FOREIGN_STEPS="16", FOREIGN_EVERY="0.5")
    try:
        task = await submit(client, audio_root / "batch")
        events = await read_events(client, task["events_url"])
    finally:
        worker.stop()
    assert [e.event for e in events if e.event != "progress"] in (["status", "result"], ["result"])
    assert len(percents(events)) >= 12
    assert events[-1].data["root"]["texts"][0]["value"] == "foreign"
    assert (await client.get(task["result_url"])).json() == events[-1].data


async def test_a_foreign_worker_that_falls_silent_is_reported_lost(
    client: httpx.AsyncClient, foreign_env: dict[str, str], audio_root: Path
) -> None:
    worker = start_foreign_worker(foreign_env, FOREIGN_STEPS="3", FOREIGN_EVERY="0.5", FOREIGN_THEN="silence")
    try:
        task = await submit(client, audio_root / "batch")
        events = await read_events(client, task["events_url"])
        silent_for = time.monotonic() - max(e.at for e in events if e.event == "progress")
    finally:
        worker.kill_group()
        worker.stop()
    assert events[-1].event == "error"
    assert events[-1].data["root"]["value"] == "Task failed: worker lost"
    assert silent_for >= LOST_AFTER
    assert (await client.get(task["result_url"])).json() == events[-1].data

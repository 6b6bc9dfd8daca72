"""A task that raises an ordinary exception (no lost worker, no cancel), end to end on real web
and worker processes: its stream ends with the error event naming the exception's message, and
polling answers the same."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from live_progress.launch.processes import start_web, start_worker
from live_progress.launch.redis_server import RedisServer
from tests.conftest import ARTIFACTS, DATA
from tests.support.clients import read_events, submit

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def error_env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    # A database of its own: its worker is started by the test, once the task is queued.
    return {**service_env, "REDIS_URL": redis_server.database_url(27)}


@pytest.fixture(scope="module")
def web(error_env: dict[str, str]) -> Iterator[str]:
    process, base_url = start_web(error_env, ARTIFACTS, name="web-task-error")
    yield base_url
    process.stop()


async def test_a_task_that_raises_ends_its_stream_with_the_error_and_polling_says_the_same(
    web: str, error_env: dict[str, str], audio_root: Path
) -> None:
    folder = audio_root / f"vanishing-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    shutil.copy(DATA / "batch" / "weather.mp3", folder)
    async with httpx.AsyncClient(base_url=web, timeout=httpx.Timeout(30, read=120)) as client:
        task = await submit(client, folder)  # queued: no worker takes this database's tasks yet
        snapshot = asyncio.Event()
        reading = asyncio.create_task(read_events(client, task["events_url"], first=snapshot))
        await asyncio.wait_for(snapshot.wait(), 30)
        # Gone before a worker runs the task: the task raises FileNotFoundError, as a task
        # whose input went away meanwhile does.
        shutil.rmtree(folder)
        worker = start_worker(error_env, ARTIFACTS, name="worker-task-error")
        try:
            events = await asyncio.wait_for(reading, 120)
        finally:
            worker.stop()
        polled = (await client.get(task["result_url"])).json()

    failed = {
        "root": {
            "output_type": "text",
            "title": "error",
            "value": f"Task failed: input_dir {str(folder)!r} is not a folder (any more)",
            "subtitle": None,
        }
    }
    assert events[0].event == "status", events
    assert [e.event for e in events if e.event not in ("status", "progress")] == ["error"], events
    assert events[-1].data == failed
    assert polled == failed
    assert "FileNotFoundError" in worker.log()

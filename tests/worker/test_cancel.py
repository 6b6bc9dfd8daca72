"""Cancels hold on every worker: one started after the cancel never runs the task."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from live_progress.contract import children_key
from live_progress.launch.processes import start_web, start_worker, wait_for
from live_progress.launch.redis_server import RedisServer
from tests.conftest import ARTIFACTS, DATA
from tests.support.clients import read_events, submit

pytestmark = pytest.mark.integration

CANCELLED = {"root": {"output_type": "text", "title": "error", "value": "Task cancelled", "subtitle": None}}


@pytest.fixture(scope="module")
def cancel_env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    # A database of its own: no worker runs here unless a test starts one.
    return {**service_env, "REDIS_URL": redis_server.database_url(15)}


@pytest.fixture(scope="module")
def web(cancel_env: dict[str, str]) -> Iterator[str]:
    process, base_url = start_web(cancel_env, ARTIFACTS, name="web-cancel")
    yield base_url
    process.stop()


@pytest.fixture
async def client(web: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web, timeout=httpx.Timeout(30, read=90)) as client:
        yield client


@pytest.fixture
def redis(cancel_env: dict[str, str]) -> Iterator[Redis]:
    client = Redis.from_url(cancel_env["REDIS_URL"])
    yield client
    client.close()


def fresh_folder(audio_root: Path, *clips: str) -> Path:
    folder = audio_root / f"cancel-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    for clip in clips:
        shutil.copy(DATA / clip, folder)
    return folder


async def test_a_worker_started_after_the_cancel_never_runs_the_task(
    client: httpx.AsyncClient, cancel_env: dict[str, str], audio_root: Path, redis: Redis
) -> None:
    folder = fresh_folder(audio_root, "batch/weather.mp3")
    task = await submit(client, folder)
    assert (await client.delete(f"/audio/transcribe/{task['task_id']}")).status_code == 202
    assert (await read_events(client, task["events_url"]))[-1].data == CANCELLED

    worker = start_worker(cancel_env, ARTIFACTS, name="worker-after-cancel")
    try:
        wait_for(lambda: f"Discarding revoked task: audio.transcribe[{task['task_id']}]" in worker.log(), 30, "discard")
        assert redis.llen("celery") == 0, "the message is still queued"
    finally:
        worker.stop()
    assert (await client.get(task["result_url"])).json() == CANCELLED
    assert not (folder / "transcripts").exists()
    assert "Preparing" not in worker.log()


async def test_a_split_batchs_queued_helper_is_not_run_by_a_worker_started_after_the_cancel(
    client: httpx.AsyncClient, cancel_env: dict[str, str], audio_root: Path, redis: Redis
) -> None:
    split_env = {**cancel_env, "SPLIT_BATCHES": "2"}
    folder = fresh_folder(audio_root, "long/story.mp3", "batch/weather.mp3", "batch/train.WAV")
    leader = start_worker(split_env, ARTIFACTS, name="worker-split-leader")
    try:
        task = await submit(client, folder)
        # The leader's worker is busy with the batch: its helper waits in the queue. (Listed
        # before it is sent, so waited for in the queue too: frozen in between, the leader
        # would never send it.)
        await asyncio.to_thread(
            wait_for,
            lambda: redis.scard(children_key(task["task_id"])) == 1 and redis.llen("celery") == 1,
            60,
            "a helper in the queue",
        )
        (helper_id,) = (member.decode() for member in redis.smembers(children_key(task["task_id"])))
        # Frozen, the leader's worker cannot take the helper itself once the cancel frees it.
        os.killpg(leader.popen.pid, signal.SIGSTOP)
        assert (await client.delete(f"/audio/transcribe/{task['task_id']}")).status_code == 202

        latecomer = start_worker(split_env, ARTIFACTS, name="worker-split-latecomer")
        try:
            discarded = f"Discarding revoked task: audio.transcribe.help[{helper_id}]"
            await asyncio.to_thread(wait_for, lambda: discarded in latecomer.log(), 30, "the helper discarded")
        finally:
            latecomer.stop()
    finally:
        leader.kill_group()
        leader.stop()
    assert "succeeded" not in latecomer.log()
    assert redis.llen("celery") == 0

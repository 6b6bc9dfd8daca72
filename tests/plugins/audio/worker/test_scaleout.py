"""Beyond one machine: a batch split over two worker processes, behind two web processes."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from live_progress.launch.processes import Process, start_web, start_worker
from live_progress.launch.redis_server import RedisServer
from live_progress.plugins.audio.worker.transcription import find_audio_files
from tests.conftest import ARTIFACTS, DATA
from tests.support.clients import Event, percents, read_events, submit
from tests.support.eventually import eventually

pytestmark = pytest.mark.integration

LOST_AFTER = 3.0
CANCELLED = {"root": {"output_type": "text", "title": "error", "value": "Task cancelled", "subtitle": None}}


@pytest.fixture(scope="module")
def scale_env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    # A database of its own on the session's Redis, so no other test's worker takes these tasks.
    url = redis_server.database_url(10)
    return {
        **service_env,
        "REDIS_URL": url,
        "SPLIT_BATCHES": "4",
        "WHISPER_CPU_THREADS": "1",
        "WORKER_LOST_AFTER": str(LOST_AFTER),
    }


@pytest.fixture(scope="module")
def folders(audio_root: Path) -> dict[str, Path]:
    """A mixed batch of 6 files (two in a subfolder), and 6 long files to cancel in the middle."""
    mixed, long = audio_root / "split-mixed", audio_root / "split-long"
    for n in range(3):
        (mixed / "sub").mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / "long" / "story.mp3", mixed / f"story-{n}.mp3")
    for clip in ("batch/weather.mp3", "batch/train.WAV", "batch/sub/cooking.flac"):
        shutil.copy(DATA / clip, mixed / "sub" / Path(clip).name)
    long.mkdir()
    for n in range(6):
        shutil.copy(DATA / "long" / "story.mp3", long / f"story-{n}.mp3")
    return {"mixed": mixed, "long": long}


@pytest.fixture(scope="module")
def workers(scale_env: dict[str, str]) -> Iterator[list[Process]]:
    started = [start_worker(scale_env, ARTIFACTS, name=f"worker-scale-{n}") for n in "ab"]
    yield started
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def webs(scale_env: dict[str, str], workers: list[Process]) -> Iterator[list[str]]:
    started = [start_web(scale_env, ARTIFACTS, name=f"web-scale-{n}") for n in "ab"]
    yield [base_url for _, base_url in started]
    for process, _ in started:
        process.stop()


@pytest.fixture
async def clients(webs: list[str]) -> AsyncIterator[list[httpx.AsyncClient]]:
    a, b = (httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(30, read=90)) for url in webs)
    async with a, b:
        yield [a, b]


@pytest.fixture
def redis(scale_env: dict[str, str]) -> Iterator[Redis]:
    client = Redis.from_url(scale_env["REDIS_URL"])
    yield client
    client.close()


async def poll_until(
    client: httpx.AsyncClient, url: str, done: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not done(root := (await client.get(url)).json()["root"]):
        assert time.monotonic() < deadline, root
        await asyncio.sleep(0.05)
    return root


def both_running(root: dict[str, Any]) -> bool:
    return root.get("title") == "progress" and root.get("running") == 2


def transcribed_lines(worker: Process, batch_id: str) -> list[str]:
    """The worker's log lines for each file of the batch it transcribed (the audio worker's split.py logs them)."""
    return [line for line in worker.log().splitlines() if "] Transcribed " in line and f"of batch {batch_id}" in line]


def states(redis: Redis, task_ids: list[str]) -> list[str | None]:
    raw = redis.mget([f"celery-task-meta-{task_id}" for task_id in task_ids]) if task_ids else []
    return [json.loads(value)["status"] if value else None for value in raw]


def children(redis: Redis, batch_id: str) -> list[str]:
    return sorted(child.decode() for child in redis.smembers(f"live-progress:children:{batch_id}"))


def assert_never_goes_back(events: list[Event]) -> None:
    seen = percents(events)
    assert seen == sorted(seen), f"percent went back: {seen}"
    assert all(0 <= p < 100 for p in seen), seen


async def test_a_split_batch_runs_on_both_workers_and_streams_from_any_web(
    clients: list[httpx.AsyncClient], workers: list[Process], folders: dict[str, Path]
) -> None:
    web_a, web_b = clients
    task = await submit(web_a, folders["mixed"])

    # Stream from the web process that did not take the submission, until both workers run
    # a part; then drop the connection and resume on the other with Last-Event-ID.
    first: list[Event] = []
    async with asyncio.timeout(60):
        while not any(e.data["root"].get("running") == 2 for e in first):
            last_id = first[-1].id if first else None
            first += await read_events(web_b, task["events_url"], last_id, until="progress")
            assert first[-1].event == "progress", first[-1]
    rest = await read_events(web_a, task["events_url"], last_event_id=first[-1].id)
    events = first + rest

    assert len({e.id for e in events}) == len(events), [(e.id, e.data) for e in events]
    assert_never_goes_back(events)
    assert len(set(percents(events))) >= 3, percents(events)
    descriptions = [e.data["root"].get("description", "") for e in events]
    assert any(re.fullmatch(r"Transcribing 6 files: 2 running, [0-4] done", d) for d in descriptions), descriptions
    final = events[-1]
    assert final.event == "result", final
    texts = final.data["root"]["texts"]
    assert [t["title"] for t in texts] == [str(path) for path in find_audio_files(folders["mixed"])]
    assert all(t["subtitle"] is None for t in texts), texts
    for text, word in zip(texts, ["village"] * 3 + ["onions", "london", "weather"], strict=True):
        assert word in text["value"].lower(), (word, text)
    assert final.data["root"]["transcripts_dir"] == str(folders["mixed"] / "transcripts")
    # The final event is the same on every replica: this one answers "you have it" with 204.
    response = await web_b.get(task["events_url"], headers={"Last-Event-ID": final.id})
    assert response.status_code == 204

    done_by = [transcribed_lines(worker, task["task_id"]) for worker in workers]
    assert all(done_by), "a worker ran no part of the batch"
    assert sum(map(len, done_by)) == 6


async def test_cancelling_a_split_batch_cancels_every_part_and_it_stays_cancelled(
    clients: list[httpx.AsyncClient], workers: list[Process], folders: dict[str, Path], redis: Redis
) -> None:
    web_a, web_b = clients
    task = await submit(web_a, folders["long"])
    await poll_until(web_b, task["result_url"], both_running)
    parts = children(redis, task["task_id"])
    assert len(parts) == 3

    assert (await web_b.delete(f"/audio/transcribe/{task['task_id']}")).status_code == 202
    root = await poll_until(web_a, task["result_url"], lambda root: root.get("title") != "progress", 20)
    assert root == CANCELLED["root"]
    assert (await read_events(web_b, task["events_url"]))[-1].data == CANCELLED
    # Every part is revoked: the one running is killed, the ones waiting are skipped.
    await eventually(lambda: states(redis, parts) == ["REVOKED"] * len(parts), timeout=20, what="every part revoked")
    transcribed = [len(transcribed_lines(worker, task["task_id"])) for worker in workers]

    # Both workers free again: a new batch spreads over them and finishes.
    after = await submit(web_b, folders["mixed"])
    assert (await read_events(web_a, after["events_url"]))[-1].event == "result"
    assert (await web_b.get(task["result_url"])).json() == CANCELLED
    assert [len(transcribed_lines(worker, task["task_id"])) for worker in workers] == transcribed


async def test_a_file_that_fails_is_an_error_entry_and_the_others_are_transcribed(
    clients: list[httpx.AsyncClient], audio_root: Path
) -> None:
    web_a, web_b = clients
    task = await submit(web_b, audio_root / "with_corrupt")
    events = await read_events(web_a, task["events_url"])

    assert_never_goes_back(events)
    broken, good = events[-1].data["root"]["texts"]
    assert broken["title"] == str(audio_root / "with_corrupt" / "broken.mp3")
    assert broken["subtitle"] == "error"
    assert broken["value"].startswith("Could not transcribe broken.mp3: ")
    assert good["title"] == str(audio_root / "with_corrupt" / "good.ogg")
    assert good["subtitle"] is None and "library" in good["value"].lower()


async def test_a_part_whose_worker_dies_is_taken_back_and_the_batch_completes(
    clients: list[httpx.AsyncClient], workers: list[Process], folders: dict[str, Path]
) -> None:
    """Last in this module: it kills one of the two workers."""
    web_a, web_b = clients
    task = await submit(web_a, folders["long"])
    await poll_until(web_b, task["result_url"], both_running)
    leader = next(w for w in workers if f"audio.transcribe[{task['task_id']}] received" in w.log())
    helper = next(w for w in workers if w is not leader)
    snapshot = asyncio.Event()
    watching = asyncio.create_task(read_events(web_b, task["events_url"], first=snapshot))
    await asyncio.wait_for(snapshot.wait(), 30)  # the stream has its snapshot
    helper.kill_group(signal.SIGKILL)

    events = await asyncio.wait_for(watching, 60)
    assert_never_goes_back(events)
    assert events[-1].event == "result", events[-1]
    texts = events[-1].data["root"]["texts"]
    assert all(t["subtitle"] is None and "village" in t["value"].lower() for t in texts), texts
    assert f"of batch {task['task_id']}: its worker was lost" in leader.log()
    assert len(transcribed_lines(leader, task["task_id"])) + len(transcribed_lines(helper, task["task_id"])) == 6

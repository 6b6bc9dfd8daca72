"""A worker that dies (SIGKILL) or freezes (SIGSTOP) mid-job loses nothing: the job is taken over
by the next worker from its last published segment; a job that kills every worker ends in error."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from live_progress.contract import run_key
from live_progress.launch.processes import Process, start_web, start_worker
from live_progress.launch.redis_server import RedisServer
from tests.conftest import ARTIFACTS, DATA
from tests.support.clients import Event, percents, read_events, submit

pytestmark = pytest.mark.integration

LOST_AFTER = 3.0
CLIPS = ("garden.ogg", "museum.ogg")


@pytest.fixture(scope="module")
def env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    # A database of its own on the session's Redis, so no other test's worker takes these tasks.
    return {**service_env, "REDIS_URL": redis_server.database_url(4), "WORKER_LOST_AFTER": str(LOST_AFTER)}


@pytest.fixture(scope="module")
def web(env: dict[str, str]) -> Iterator[str]:
    process, base_url = start_web(env, ARTIFACTS, name="web-takeover")
    yield base_url
    process.stop()


@pytest.fixture
async def client(web: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web, timeout=httpx.Timeout(30, read=240)) as client:
        yield client


@pytest.fixture
def workers(env: dict[str, str]) -> Iterator[list[Process]]:
    """The workers a test starts (appended as it goes), all stopped at its end."""
    started: list[Process] = []
    yield started
    for process in started:
        if process.alive():
            os.killpg(process.popen.pid, signal.SIGCONT)
        process.stop()


@pytest.fixture
def redis(env: dict[str, str]) -> Iterator[Redis]:
    client = Redis.from_url(env["REDIS_URL"])
    yield client
    client.close()


def fresh_folder(audio_root: Path, name: str, clips: tuple[str, ...] = CLIPS) -> Path:
    """The clips in a folder of their own: nothing of an earlier run's output comes with them."""
    folder = audio_root / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for clip in clips:
        shutil.copy(DATA / "speech" / clip, folder / clip)
    return folder


def texts(result: Event) -> list[tuple[str, str]]:
    return [(Path(t["title"]).name, t["value"]) for t in result.data["root"]["texts"]]


def segments(events: list[Event]) -> list[tuple[str, float, float, str]]:
    """Each segment by what it says (ids are cursors, not identities)."""
    return [
        (Path(root["file"]).name, root["start"], root["end"], root["text"])
        for root in (e.data["root"] for e in events if e.event == "segment")
    ]


def check_one_stream(events: list[Event]) -> None:
    assert [e.event for e in events if e.event in ("result", "error")] == ["result"], events[-1]
    seen = segments(events)
    assert len(seen) == len(set(seen)), "a segment came twice"
    shown = percents(events)
    assert shown == sorted(shown), f"the percent went back: {shown}"


# The undisturbed run's result, once per module: every test transcribes the same clips.
_REFERENCE: list[Event] = []


async def reference(client: httpx.AsyncClient, workers: list[Process], env: dict[str, str], folder: Path) -> Event:
    """The undisturbed run of ``folder`` (the clips of CLIPS), made by the first test that asks."""
    if _REFERENCE:
        return _REFERENCE[0]
    workers.append(start_worker(env, ARTIFACTS, name="worker-takeover-ref"))
    task = await submit(client, folder)
    events = await read_events(client, task["events_url"])
    check_one_stream(events)
    workers.pop().stop()
    _REFERENCE.append(events[-1])
    return events[-1]


async def until_segment(events: list[Event], count: int = 1, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(segments(events)) < count:
        assert time.monotonic() < deadline, "no segment came"
        await asyncio.sleep(0.02)


def is_lost(event: Event) -> bool:
    return event.event == "progress" and event.data["root"].get("description", "").startswith("Worker lost")


def after_takeover(events: list[Event]) -> list[Event]:
    lost = next((i for i, e in enumerate(events) if is_lost(e)), None)
    return [] if lost is None else events[lost + 1 :]


async def until_taken_over(events: list[Event], timeout: float = 120) -> None:
    """Until the stream said the worker was lost and then carried a segment: the next worker's."""
    deadline = time.monotonic() + timeout
    while not any(e.event == "segment" for e in after_takeover(events)):
        assert time.monotonic() < deadline, "the job was not taken over"
        await asyncio.sleep(0.02)


async def follow_live(client: httpx.AsyncClient, url: str, into: list[Event]) -> None:
    """Every event of the stream, appended as it comes (a test acts on what it has seen so far)."""
    from httpx_sse import aconnect_sse

    async with aconnect_sse(client, "GET", url) as source:
        async for sse in source.aiter_sse():
            if sse.data:
                into.append(Event(sse.event, sse.id, json.loads(sse.data), time.monotonic()))


async def test_a_worker_killed_mid_file_loses_nothing_the_next_one_finishes_the_job(
    client: httpx.AsyncClient, workers: list[Process], env: dict[str, str], audio_root: Path
) -> None:
    undisturbed = await reference(client, workers, env, fresh_folder(audio_root, "takeover-ref"))

    workers.append(start_worker(env, ARTIFACTS, name="worker-takeover-a"))
    task = await submit(client, fresh_folder(audio_root, "takeover-kill"))
    events: list[Event] = []
    watching = asyncio.create_task(follow_live(client, task["events_url"], events))
    await until_segment(events)
    workers[0].kill_group(signal.SIGKILL)
    killed = time.monotonic()
    workers.append(start_worker(env, ARTIFACTS, name="worker-takeover-b"))
    await asyncio.wait_for(watching, 240)

    check_one_stream(events)
    lost = [e for e in events if is_lost(e)]
    assert lost, "no status said the worker was lost"
    assert texts(events[-1]) == texts(undisturbed)
    assert segments(events) == segments(await read_events(client, task["events_url"], last_event_id=None)), (
        "a reconnecting client reads the same segments"
    )
    moving = next(e.at for e in events if e.at > lost[0].at and e.event in ("segment", "result"))
    print(f"kill -9 to the next worker's first segment: {moving - killed:.1f} s (WORKER_LOST_AFTER={LOST_AFTER})")


async def test_a_pool_process_killed_mid_file_is_taken_over_at_once_by_its_own_worker(
    client: httpx.AsyncClient, workers: list[Process], env: dict[str, str], audio_root: Path
) -> None:
    """The OOM killer picks the biggest process, the one transcribing: its worker sees it die
    and sends the job again at once, without waiting WORKER_LOST_AFTER."""
    undisturbed = await reference(client, workers, env, fresh_folder(audio_root, "child-ref"))
    workers.append(start_worker(env, ARTIFACTS, name="worker-child"))
    task = await submit(client, fresh_folder(audio_root, "child-kill"))
    events: list[Event] = []
    watching = asyncio.create_task(follow_live(client, task["events_url"], events))
    await until_segment(events)
    worker = workers[0]
    children = Path(f"/proc/{worker.popen.pid}/task/{worker.popen.pid}/children").read_text().split()
    for pid in children:
        os.kill(int(pid), signal.SIGKILL)
    await asyncio.wait_for(watching, 240)

    check_one_stream(events)
    assert any(is_lost(e) for e in events)
    assert texts(events[-1]) == texts(undisturbed)
    assert worker.alive()


async def test_a_paused_worker_that_wakes_after_the_takeover_writes_nothing(
    client: httpx.AsyncClient, workers: list[Process], env: dict[str, str], audio_root: Path, redis: Redis
) -> None:
    undisturbed = await reference(client, workers, env, fresh_folder(audio_root, "pause-ref"))

    workers.append(start_worker(env, ARTIFACTS, name="worker-pause-a"))
    task = await submit(client, fresh_folder(audio_root, "pause-job"))
    events: list[Event] = []
    watching = asyncio.create_task(follow_live(client, task["events_url"], events))
    await until_segment(events)
    paused = workers[0]
    os.killpg(paused.popen.pid, signal.SIGSTOP)  # the whole worker freezes: a frozen VM
    workers.append(start_worker(env, ARTIFACTS, name="worker-pause-b"))
    # The next worker has the job and has published more of it: then the paused one wakes.
    # (A count of segments is not enough: the paused worker's last ones may still be on the way.)
    await until_taken_over(events)
    os.killpg(paused.popen.pid, signal.SIGCONT)
    await asyncio.wait_for(watching, 240)

    check_one_stream(events)
    assert texts(events[-1]) == texts(undisturbed)
    deadline = time.monotonic() + LOST_AFTER * 2
    while "taken over by another worker" not in paused.log():
        assert time.monotonic() < deadline, paused.log()[-3000:]
        await asyncio.sleep(0.1)
    await asyncio.sleep(LOST_AFTER)  # time for any late write to land
    stored = await client.get(task["result_url"])
    assert stored.json()["root"] == events[-1].data["root"], "the result was overwritten"
    again = await read_events(client, task["events_url"])
    assert segments(again) == segments(events)
    assert paused.alive(), "the woken worker goes on serving"
    assert not redis.exists(run_key(task["task_id"]))


async def test_a_job_that_kills_every_worker_fails_after_max_attempts_naming_its_file(
    client: httpx.AsyncClient, workers: list[Process], env: dict[str, str], audio_root: Path, redis: Redis
) -> None:
    task = await submit(client, fresh_folder(audio_root, "poison", ("harbour.ogg",)))
    run = run_key(task["task_id"])
    events: list[Event] = []
    watching = asyncio.create_task(follow_live(client, task["events_url"], events))
    for attempt in range(1, 4):
        worker = start_worker(env, ARTIFACTS, name=f"worker-poison-{attempt}")
        workers.append(worker)
        deadline = time.monotonic() + 120
        # A file that crashes its decoder: the worker dies as soon as it is on it.
        while redis.hmget(run, "attempt", "state", "on") != [str(attempt).encode(), b"running", b"harbour.ogg"]:
            assert time.monotonic() < deadline, redis.hgetall(run)
            await asyncio.sleep(0.02)
        worker.kill_group(signal.SIGKILL)
    await asyncio.wait_for(watching, LOST_AFTER * 10)

    expected = (
        "Task failed: worker lost 3 times (attempt 1 on harbour.ogg, attempt 2 on harbour.ogg, "
        "attempt 3 on harbour.ogg)"
    )
    assert events[-1].event == "error"
    assert events[-1].data["root"]["value"] == expected
    assert (await client.get(task["result_url"])).json()["root"]["value"] == expected
    waiting = [e.data["root"]["description"] for e in events if e.event == "progress"]
    assert any(d.endswith("(attempt 3 of 3)") for d in waiting), waiting
    shown = percents(events)
    assert shown == sorted(shown)

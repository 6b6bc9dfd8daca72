"""One long recording split over two workers (SPLIT_BATCHES): pieces cut at pauses, transcribed
by both, merged in order; its live segments in order and each once; its percent never back."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from celery import Celery, Task
from redis import Redis

from bench.long_recording import build
from live_progress import Job, available_cpus
from live_progress.contract import heartbeat_key, run_key, segments_key
from live_progress.launch.processes import Process, start_web, start_worker
from live_progress.launch.redis_server import RedisServer
from live_progress.plugins.audio.worker.checkpoint import Partial, TimedSegment, Transcript
from live_progress.plugins.audio.worker.pieces import LONG_FILE_SECONDS, Unit
from live_progress.plugins.audio.worker.segments import SegmentLog
from live_progress.plugins.audio.worker.shared_batch import SharedBatch, Snapshot
from tests.conftest import ARTIFACTS
from tests.support.clients import Event, percents, read_events

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def long_env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    # A database of its own on the session's Redis, so no other test's worker takes these tasks.
    return {**service_env, "REDIS_URL": redis_server.database_url(22), "SPLIT_BATCHES": "2", "WHISPER_CPU_THREADS": "1"}


@pytest.fixture(scope="module")
def long_folder(audio_root: Path) -> Path:
    folder = audio_root / "one-long"
    folder.mkdir()
    assert build(folder / "long.wav", LONG_FILE_SECONDS + 60) > LONG_FILE_SECONDS
    return folder


@pytest.fixture
def redis(long_env: dict[str, str]) -> Iterator[Redis]:
    client = Redis.from_url(long_env["REDIS_URL"])
    yield client
    client.close()


@pytest.fixture
def job_of(long_env: dict[str, str]) -> Iterator[Callable[[str], Job]]:
    """A Job for a batch id, on a Celery app whose result backend is the test's Redis."""
    celery = Celery("long-split-test", backend=long_env["REDIS_URL"], broker=long_env["REDIS_URL"])
    celery.conf.result_expires = 60

    def leader(self: Task) -> None:
        """Stands in for the task that leads the batch: the Job needs a task of an app."""

    task = celery.task(name="long-split-test", bind=True, shared=False)(leader)
    yield lambda batch_id: Job(task, batch_id)
    celery.backend.client.close()
    celery.close()


def _segment(start: float, end: float, text: str) -> SimpleNamespace:
    return SimpleNamespace(start=start, end=end, text=text)


def _publish(batch: SharedBatch, index: int, unit: Unit, segment: SimpleNamespace, claimer: str = "") -> None:
    """A segment published by ``claimer`` ('': the leader, holding nothing), the unit begun up to it."""
    batch.publish(index, unit, segment, claimer, Partial(index, segment.end, ()))


def _published(redis: Redis, task_id: str) -> list[str]:
    return [json.loads(fields[b"root"])["text"] for _, fields in redis.xrange(segments_key(task_id))]


def test_pieces_segments_are_published_in_the_files_order_whoever_decodes_them_first(
    redis: Redis, job_of: Callable[[str], Job]
) -> None:
    batch_id = "in-order-test"
    log = SegmentLog(job_of(batch_id))
    batch = SharedBatch(redis, batch_id, b"celery-task-meta-" + batch_id.encode(), 60, log)
    path = Path("/audio/long.wav")
    # File 0 is short and whole; file 1 is three pieces (units 1, 2, 3).
    units = [Unit(0, Path("/audio/a.wav"), 5.0)] + [
        Unit(1, path, 60.0, 60.0 * n, None if n == 2 else 60.0 * (n + 1), n, 3) for n in range(3)
    ]
    batch.plan(units)

    _publish(batch, 3, units[3], _segment(125, 130, "third"))  # a helper ahead: held
    batch.finish(3, units[3], Transcript(path))
    _publish(batch, 2, units[2], _segment(61, 65, "second"))
    assert _published(redis, batch_id) == []
    _publish(batch, 1, units[1], _segment(0, 4, "first-a"))  # the piece the file has reached: at once
    assert _published(redis, batch_id) == ["first-a"]
    _publish(batch, 0, units[0], _segment(0, 2, "whole"))  # a whole file: at once
    _publish(batch, 1, units[1], _segment(4, 8, "first-b"))
    assert _published(redis, batch_id) == ["first-a", "whole", "first-b"]

    batch.finish(1, units[1], Transcript(path))  # the first piece done: the second's held ones follow
    assert _published(redis, batch_id)[3:] == ["second"]
    _publish(batch, 2, units[2], _segment(65, 70, "second-b"))  # now the file has reached it: at once
    batch.finish(2, units[2], Transcript(path))  # and the third, done already, all at once
    assert _published(redis, batch_id) == ["first-a", "whole", "first-b", "second", "second-b", "third"]

    batch.finish(2, units[2], Transcript(path))  # finishing again publishes nothing twice
    assert len(_published(redis, batch_id)) == 6
    batch.clean_up(len(units))
    assert not redis.keys(f"live-progress:batch:{batch_id}:*")


def test_a_batch_left_behind_leaves_nothing_without_an_expiry(redis: Redis, job_of: Callable[[str], Job]) -> None:
    # A leader killed, or a batch cancelled, never cleans up: every key its participants wrote
    # must expire with the result.
    batch_id = "abandoned-test"
    log = SegmentLog(job_of(batch_id))
    batch = SharedBatch(redis, batch_id, b"celery-task-meta-" + batch_id.encode(), 60, log)
    path = Path("/audio/long.wav")
    units = [Unit(0, Path("/audio/a.wav"), 5.0)] + [
        Unit(1, path, 60.0, 60.0 * n, None if n == 1 else 120.0, n, 2) for n in range(2)
    ]
    batch.plan(units)
    redis.set(heartbeat_key(batch_id), "1", ex=60)
    claimed = [batch.claim("helper-1") for _ in units]
    assert [claim[0] for claim in claimed if claim] == [0, 1, 2]
    batch.report_seconds(0, 2.5, "helper-1")
    _publish(batch, 2, units[2], _segment(61, 65, "held"), "helper-1")
    batch.finish(0, units[0], Transcript(units[0].path, text="done"), "helper-1")
    batch.release(1, Partial(index=1, seconds=10.0, segments=()), "helper-1")
    redis.delete(heartbeat_key("helper-1"))  # it beat never: lost
    batch.take_back_lost(attempts=2)

    keys = redis.keys(f"live-progress:batch:{batch_id}:*")
    assert len(keys) >= 7
    assert {key: redis.ttl(key) for key in keys if not 0 < redis.ttl(key) <= 60} == {}
    redis.delete(*keys, heartbeat_key(batch_id), segments_key(batch_id))


def test_a_unit_taken_back_from_a_lost_worker_resumes_after_its_published_segments(
    redis: Redis, job_of: Callable[[str], Job]
) -> None:
    """A helper paused past its heartbeat: its unit goes to another, which carries it on from the
    last segment published; the paused one, when it wakes, writes nothing more about it."""
    batch_id = "taken-back-test"
    path = Path("/audio/a.wav")
    units = [Unit(0, path, 30.0)]

    def participant() -> SharedBatch:  # each worker process has its own
        return SharedBatch(redis, batch_id, b"celery-task-meta-" + batch_id.encode(), 60, SegmentLog(job_of(batch_id)))

    paused, other = participant(), participant()
    paused.plan(units)
    redis.set(heartbeat_key(batch_id), "leader-token", ex=60)
    _executing(redis, "helper-1", "token-1")
    _executing(redis, "helper-2", "token-2")
    assert paused.claim("helper-1 token-1") is not None
    kept = []
    for start, end, text in [(0, 4, "one"), (4, 9, "two")]:
        kept.append(TimedSegment(start, end, text))
        paused.publish(0, units[0], _segment(start, end, text), "helper-1 token-1", Partial(0, end, tuple(kept)))

    _executing(redis, "helper-1", "token-of-its-next-attempt")  # it was taken over
    assert other.take_back_lost(attempts=2) == 1
    claimed = other.claim("helper-2 token-2")
    assert claimed is not None
    index, unit, begun = claimed
    assert begun == Partial(0, 9, (TimedSegment(0, 4, "one"), TimedSegment(4, 9, "two")))

    paused.publish(0, units[0], _segment(9, 12, "late"), "helper-1 token-1", Partial(0, 12, ()))  # wakes
    assert paused.lost(0)
    other.publish(0, unit, _segment(9, 14, "three"), "helper-2 token-2", Partial(0, 14, ()))
    paused.finish(0, unit, Transcript(path, text="stale"), "helper-1 token-1")
    paused.report_seconds(0, 30.0, "helper-1 token-1")
    other.finish(0, unit, Transcript(path, text="one two three"), "helper-2 token-2")

    assert _published(redis, batch_id) == ["one", "two", "three"]
    assert other.transcripts([path], units)[0].text == "one two three"
    assert other.snapshot().seconds == {}
    other.clean_up(len(units))
    redis.delete(segments_key(batch_id), *(heartbeat_key(t) for t in (batch_id, "helper-1", "helper-2")))
    redis.delete(*(run_key(t) for t in ("helper-1", "helper-2")))


def test_a_helper_taken_over_writes_nothing_even_before_its_unit_is_taken_back(
    redis: Redis, job_of: Callable[[str], Job]
) -> None:
    """The paused helper wakes after its task was taken over but before the leader took its unit
    back: its execution is no longer its run's, so it publishes, reports, finishes, gives back
    and claims nothing."""
    batch_id = "superseded-test"
    path = Path("/audio/a.wav")
    units = [Unit(0, path, 30.0), Unit(1, Path("/audio/b.wav"), 30.0)]
    batch = SharedBatch(redis, batch_id, b"celery-task-meta-" + batch_id.encode(), 60, SegmentLog(job_of(batch_id)))
    batch.plan(units)
    redis.set(heartbeat_key(batch_id), "leader-token", ex=60)
    _executing(redis, "helper-1", "token-1")
    assert batch.claim("helper-1 token-1") is not None
    batch.publish(0, units[0], _segment(0, 4, "one"), "helper-1 token-1", Partial(0, 4, ()))

    _executing(redis, "helper-1", "token-of-its-next-attempt")  # taken over while it was paused
    batch.publish(0, units[0], _segment(4, 9, "late"), "helper-1 token-1", Partial(0, 9, ()))
    batch.report_seconds(0, 9.0, "helper-1 token-1")
    batch.release(0, Partial(0, 9, ()), "helper-1 token-1")
    batch.finish(0, units[0], Transcript(path, text="stale"), "helper-1 token-1")

    assert batch.lost(0)
    assert _published(redis, batch_id) == ["one"]
    assert batch.snapshot() == Snapshot(seconds={}, done=set(), claimed={0: "helper-1 token-1"})
    assert batch.claim("helper-1 token-1") is None
    assert redis.lrange(f"live-progress:batch:{batch_id}:todo", 0, -1) == [b"1"]
    batch.clean_up(len(units))
    redis.delete(segments_key(batch_id), heartbeat_key(batch_id), heartbeat_key("helper-1"), run_key("helper-1"))


def test_a_leader_taken_over_takes_nothing_back_and_cleans_nothing_up(
    redis: Redis, job_of: Callable[[str], Job]
) -> None:
    """Only the leader's current execution takes units back from lost helpers, gives up on a unit
    lost too often (finishing it as an error), and deletes the batch's lists at the end."""
    batch_id = "superseded-leader-test"
    path = Path("/audio/a.wav")
    units = [Unit(0, path, 30.0)]
    batch = SharedBatch(redis, batch_id, b"celery-task-meta-" + batch_id.encode(), 60, SegmentLog(job_of(batch_id)))
    batch.plan(units)
    old, current = f"{batch_id} leader-1", f"{batch_id} leader-2"
    _executing(redis, batch_id, "leader-2")  # the leader was taken over: leader-1 woke late
    assert batch.claim("helper-1") is not None  # a helper that never beats: lost

    assert batch.take_back_lost(attempts=2, leader=old) == 0
    batch.clean_up(len(units), old)
    assert batch.snapshot().claimed == {0: "helper-1"}

    assert batch.take_back_lost(attempts=2, leader=current) == 1
    assert batch.claim("helper-1") is not None
    assert batch.take_back_lost(attempts=2, leader=current) == 1  # lost twice: given up on
    assert batch.finished()
    [transcript] = batch.transcripts([path], units)
    assert transcript.error == "Could not transcribe a.wav: worker lost"
    batch.clean_up(len(units), current)
    assert redis.keys(f"live-progress:batch:{batch_id}:*") == []
    redis.delete(segments_key(batch_id), heartbeat_key(batch_id), run_key(batch_id))


def _executing(redis: Redis, task_id: str, token: str) -> None:
    """What a worker's takeover bookkeeping holds while ``token``'s execution of ``task_id`` runs."""
    redis.set(heartbeat_key(task_id), token, ex=60)
    redis.hset(run_key(task_id), "token", token)


@pytest.fixture
def workers(long_env: dict[str, str]) -> Iterator[list[Process]]:
    started = [start_worker(long_env, ARTIFACTS, name=f"worker-long-{n}") for n in "ab"]
    yield started
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def web(long_env: dict[str, str]) -> Iterator[str]:
    process, base_url = start_web(long_env, ARTIFACTS, name="web-long")
    yield base_url
    process.stop()


@pytest.fixture
async def client(web: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web, timeout=httpx.Timeout(30, read=180)) as client:
        yield client


def pieces_done(worker: Process, batch_id: str) -> list[str]:
    """The worker's log lines for each piece of the batch it transcribed (the audio worker's split.py logs them)."""
    return [
        line
        for line in worker.log().splitlines()
        if "] Transcribed long.wav " in line and ", piece " in line and f"of batch {batch_id}" in line
    ]


def assert_segments_in_order_once(events: list[Event], transcript: str) -> None:
    segments = [e.data["root"] for e in events if e.event == "segment"]
    assert len({e.id for e in events if e.event == "segment"}) == len(segments), "a segment was sent twice"
    times = [(root["start"], root["end"]) for root in segments]
    assert times == sorted(set(times)), f"segments out of order or repeated: {times}"
    assert " ".join(t for root in segments if (t := root["text"])) == transcript


async def submit_long(client: httpx.AsyncClient, folder: Path) -> dict[str, str]:
    response = await client.post(
        "/audio/transcribe",
        json={"inputs": {"input_dir": {"path": str(folder)}}, "parameters": {"formats": "txt,json,srt"}},
    )
    assert response.status_code == 202, response.text
    return response.json()


async def test_a_long_file_is_transcribed_by_both_workers_in_pieces_and_merged_in_order(
    client: httpx.AsyncClient, workers: list[Process], long_folder: Path
) -> None:
    task = await submit_long(client, long_folder)
    events: list[Event] = await read_events(client, task["events_url"])

    final = events[-1]
    assert final.event == "result", final
    (text,) = final.data["root"]["texts"]
    assert text["title"] == str(long_folder / "long.wav") and text["subtitle"] is None, text

    # Both workers transcribed pieces; each piece once.
    done_by = [pieces_done(worker, task["task_id"]) for worker in workers]
    assert all(done_by), f"a worker transcribed no piece: {done_by}"
    numbers = sorted(int(m) for lines in done_by for line in lines for m in re.findall(r"piece (\d+) of", line))
    pieces = int(re.search(r"piece \d+ of (\d+)", done_by[0][0]).group(1))  # type: ignore[union-attr]
    assert pieces >= 3 and numbers == list(range(1, pieces + 1)), done_by

    # One progress bar over the pieces' seconds: never back, many steps.
    seen = percents(events)
    assert seen == sorted(seen), f"percent went back: {seen}"
    assert len(set(seen)) >= 5, seen
    descriptions = {e.data["root"]["description"] for e in events if e.event == "progress"}
    assert any(re.fullmatch(rf"Transcribing 1 file in {pieces} parts: 2 running, \d done", d) for d in descriptions)

    # Live segments: in order and each once, and they add up to the transcript.
    assert_segments_in_order_once(events, text["value"])
    segments = [e for e in events if e.event == "segment"]

    # The transcript files hold the merged segments in order, to the end of the recording.
    written = {f["format"]: Path(final.data["root"]["transcripts_dir"]) / f["name"] for f in text["files"]}
    timed = json.loads(written["json"].read_text())["segments"]
    assert [s["start"] for s in timed] == sorted(s["start"] for s in timed)
    assert timed[-1]["end"] > LONG_FILE_SECONDS
    assert [s["text"] for s in timed] == [e.data["root"]["text"] for e in segments if e.data["root"]["text"]]
    assert written["srt"].read_text().count(" --> ") == len(timed)
    assert written["txt"].read_text().strip() == text["value"]


def stop_group(worker: Process) -> None:
    """SIGTERM to the worker's group, as systemd and honcho send it; waits for it to exit."""
    os.killpg(worker.popen.pid, signal.SIGTERM)
    worker.popen.wait(60)
    worker.stop()


async def test_pieces_begun_when_the_workers_stop_go_on_where_they_stopped(
    client: httpx.AsyncClient, long_env: dict[str, str], long_folder: Path
) -> None:
    old = [start_worker(long_env, ARTIFACTS, name=f"worker-long-old-{n}") for n in (1, 2)]
    try:
        task = await submit_long(client, long_folder)
        watching = asyncio.create_task(read_events(client, task["events_url"]))
        deadline = time.monotonic() + 120
        # Both workers in the middle of a piece.
        while (
            not re.search(
                r"parts: 2 running",
                (root := (await client.get(task["result_url"])).json()["root"]).get("description", ""),
            )
            or root["percent"] < 10
        ):
            assert time.monotonic() < deadline, root
            await asyncio.sleep(0.05)
        await asyncio.gather(*(asyncio.to_thread(stop_group, worker) for worker in old))
    finally:
        for worker in old:
            worker.stop()
    waiting = (await client.get(task["result_url"])).json()["root"]
    assert waiting["description"].startswith("Worker stopped; waiting for another to carry on"), waiting
    given_back = [re.findall(r"Giving (long.wav .*?) of batch", worker.log()) for worker in old]
    assert any(given_back), "no piece was given back part-done"

    new = [start_worker(long_env, ARTIFACTS, name=f"worker-long-new-{n}") for n in (1, 2)]
    try:
        events = await asyncio.wait_for(watching, 180)
    finally:
        for worker in new:
            worker.stop()
    assert [e.event for e in events if e.event not in ("progress", "status", "segment")] == ["result"]
    seen = percents(events)
    assert seen == sorted(seen), f"percent went back: {seen}"
    (text,) = events[-1].data["root"]["texts"]
    assert text["subtitle"] is None, text
    assert_segments_in_order_once(events, text["value"])
    numbers = [
        int(n)
        for worker in old + new
        for n in re.findall(
            rf"Transcribed long.wav .*?, piece (\d+) of \d+ of file 1 of batch {task['task_id']}", worker.log()
        )
    ]
    assert sorted(numbers) == list(range(1, max(numbers) + 1)), numbers
    # A piece given back part-done goes on from there: not from its start.
    assert re.search(r"Resuming ", "".join(worker.log() for worker in new))


async def test_the_services_defaults_split_one_long_recording_over_every_pool_process(
    client: httpx.AsyncClient, long_env: dict[str, str], long_folder: Path
) -> None:
    # The worker as `scripts/run` starts it: none of the three settings set.
    unset = ("SPLIT_BATCHES", "WHISPER_CPU_THREADS", "WORKER_CONCURRENCY")
    env = {name: value for name, value in long_env.items() if name not in unset}
    worker = start_worker(env, ARTIFACTS, name="worker-long-defaults", concurrency=None)
    try:
        task = await submit_long(client, long_folder)
        events = await read_events(client, task["events_url"])
    finally:
        worker.stop()

    assert events[-1].event == "result", events[-1]
    (text,) = events[-1].data["root"]["texts"]
    assert text["subtitle"] is None, text
    assert_segments_in_order_once(events, text["value"])
    claimed_by = set(
        re.findall(rf"/(ForkPoolWorker-\d+)\] Claimed long.wav .+ of batch {task['task_id']}", worker.log())
    )
    cpus = available_cpus()
    sizing = f"{cpus} pool processes on {cpus} CPUs, 1 CTranslate2 thread each" if cpus > 1 else "1 pool process"
    assert sizing in worker.log(), worker.log()[-3000:]
    if cpus > 1:
        assert len(claimed_by) == cpus, (claimed_by, worker.log()[-3000:])
    else:  # one CPU: one pool process, nothing to split over
        assert not claimed_by and not pieces_done(worker, task["task_id"])

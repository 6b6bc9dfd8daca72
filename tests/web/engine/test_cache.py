"""StateCache against a real Redis: states Celery's backend writes and publishes keep it current."""

from __future__ import annotations

import gc
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest
from celery import Celery
from redis.asyncio import Redis

from live_progress.contract import PROGRESS_STATE, progress_meta, segments_key
from live_progress.launch.redis_server import RedisServer
from live_progress.web.engine.cache import StateCache
from live_progress.web.engine.hub import StateHub
from live_progress.web.engine.store import TaskStore
from tests.support.eventually import eventually
from tests.web.engine.test_hub import celery_for, running_hub
from tests.web.engine.test_liveness import ManualClock as Clock

ENDPOINT = "/audio/transcribe"
TTL = 30.0


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def parts(redis_server: RedisServer) -> AsyncIterator[tuple[StateHub, TaskStore, Celery]]:
    hub, store, redis, listener = await running_hub(redis_server.url)
    celery = celery_for(redis_server.url)
    yield hub, store, celery
    celery.close()
    await hub.stop()
    await redis.aclose()
    await listener.aclose()


@pytest.fixture
def cache(parts: tuple[StateHub, TaskStore, Celery], clock: Clock) -> StateCache:
    hub, store, _ = parts
    return StateCache(hub, store, ttl=TTL, clock=clock)


def write_progress(celery: Celery, task_id: str, percent: int) -> None:
    celery.backend.store_result(task_id, progress_meta(percent, f"at {percent}"), PROGRESS_STATE)


def percent(cache: StateCache, task_id: str) -> int | None:
    cached = cache.peek(task_id)
    return None if cached is None else orjson.loads(cached[1].data)["root"]["percent"]


async def issued_task(parts: tuple[StateHub, TaskStore, Celery], at: int) -> str:
    _, store, celery = parts
    task_id = str(uuid.uuid4())
    await store.record_issued(task_id, ENDPOINT)
    write_progress(celery, task_id, at)
    return task_id


async def test_a_read_state_is_kept(cache: StateCache, parts: tuple[StateHub, TaskStore, Celery]) -> None:
    task_id = await issued_task(parts, 10)

    endpoint, event = await cache.read_issued(task_id)

    assert (endpoint, event.kind) == (ENDPOINT, "progress")
    assert cache.peek(task_id) == (ENDPOINT, event)


async def test_a_state_written_later_reaches_the_entry(
    cache: StateCache, parts: tuple[StateHub, TaskStore, Celery]
) -> None:
    task_id = await issued_task(parts, 10)
    await cache.read_issued(task_id)

    write_progress(parts[2], task_id, 55)

    await eventually(lambda: percent(cache, task_id) == 55, what="the published state in the cache")
    assert orjson.loads((await cache.read_issued(task_id))[1].data)["root"]["percent"] == 55


async def test_an_entry_lives_ttl_seconds(
    cache: StateCache, parts: tuple[StateHub, TaskStore, Celery], clock: Clock
) -> None:
    task_id = await issued_task(parts, 10)
    await cache.read_issued(task_id)

    clock.now += TTL - 1
    assert percent(cache, task_id) == 10
    clock.now += 2
    assert cache.peek(task_id) is None


async def test_an_id_never_issued_is_not_kept(cache: StateCache) -> None:
    task_id = str(uuid.uuid4())

    endpoint, event = await cache.read_issued(task_id)

    assert (endpoint, event.kind) == (None, "status")
    assert cache.peek(task_id) is None


async def publish_segment(redis_url: str, task_id: str) -> None:
    """As a worker does (live_progress.Job.publish): append to the task's log, publish the entry."""
    redis = Redis.from_url(redis_url)
    entry = (await redis.xadd(segments_key(task_id), {"root": b'{"text":"hi"}'})).decode()
    await redis.publish(segments_key(task_id), f'{entry} {{"text":"hi"}}')
    await redis.aclose()


async def test_it_knows_a_task_has_no_live_results_until_one_is_published(
    redis_server: RedisServer, parts: tuple[StateHub, TaskStore, Celery], cache: StateCache
) -> None:
    task_id = await issued_task(parts, 10)
    assert not cache.has_no_segments(task_id)  # not cached: nothing known
    await cache.read_issued(task_id)
    assert cache.has_no_segments(task_id)

    await publish_segment(redis_server.url, task_id)

    await eventually(lambda: not cache.has_no_segments(task_id), 5, what="the segment noticed")


async def test_a_task_with_live_results_is_never_said_to_have_none(
    redis_server: RedisServer, parts: tuple[StateHub, TaskStore, Celery], cache: StateCache, clock: Clock
) -> None:
    task_id = await issued_task(parts, 10)
    await publish_segment(redis_server.url, task_id)
    await cache.read_issued(task_id)
    assert not cache.has_no_segments(task_id)

    # Nor once its entry has expired, whatever it held.
    other = await issued_task(parts, 10)
    await cache.read_issued(other)
    clock.now += TTL + 1
    assert not cache.has_no_segments(other)


async def test_entries_that_expire_are_freed_without_the_cyclic_gc(
    cache: StateCache, parts: tuple[StateHub, TaskStore, Celery], clock: Clock
) -> None:
    """The web runs the cyclic GC rarely (GC_THRESHOLDS): an entry left for it to free is held
    for as long as an hour. An expired entry must go as soon as the cache drops it."""
    task_id = await issued_task(parts, 10)
    gc.collect()
    gc.disable()
    try:
        before = _entries_in_memory()
        for _ in range(20):
            await cache.read_issued(task_id)
            clock.now += TTL + 1  # expired: the next read drops it and reads again
        assert _entries_in_memory() - before <= 1  # the one held now
    finally:
        gc.enable()


def _entries_in_memory() -> int:
    """Cache entries the cyclic GC tracks, garbage it has not yet collected included."""
    return sum(
        1
        for o in gc.get_objects()
        if type(o).__name__ == "_Entry" and type(o).__module__ == "live_progress.web.engine.cache"
    )

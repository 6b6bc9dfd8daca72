"""TaskStore.read_segments against a real Redis: reads made in one turn share a round trip,
and each caller still gets its own tasks' segments, from its own positions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from live_progress.contract import segments_key
from live_progress.launch.redis_server import RedisServer
from live_progress.web.engine.store import TaskStore
from live_progress.web.errors import ServiceUnavailable


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.database_url(5))
    yield client
    await client.aclose()


async def add_segments(redis: Redis, task_id: str, count: int) -> list[str]:
    return [(await redis.xadd(segments_key(task_id), {"root": b'{"text":"%d"}' % n})).decode() for n in range(count)]


def texts(events: list) -> list[bytes]:
    return [event.data for event in events]


async def test_reads_in_one_turn_each_get_their_own_tasks_from_their_own_positions(redis: Redis) -> None:
    store = TaskStore(redis, b"celery-task-meta-", 60)
    a, b, none = (str(uuid.uuid4()) for _ in range(3))
    a_ids = await add_segments(redis, a, 3)
    await add_segments(redis, b, 2)

    whole_a, rest_of_a, both, nothing = await asyncio.gather(
        store.read_segments({a: None}),
        store.read_segments({a: a_ids[1]}),  # from the entry the client has, included
        store.read_segments({b: None, a: a_ids[2]}),
        store.read_segments({none: None}),
    )

    assert texts(whole_a[a]) == [b'{"root":{"text":"0"}}', b'{"root":{"text":"1"}}', b'{"root":{"text":"2"}}']
    assert [event.id for event in rest_of_a[a]] == a_ids[1:]
    assert list(both) == [b, a]
    assert texts(both[b]) == [b'{"root":{"text":"0"}}', b'{"root":{"text":"1"}}']
    assert [event.id for event in both[a]] == a_ids[2:]
    assert nothing == {none: []}


async def test_a_reader_that_gives_up_leaves_the_others_theirs(redis: Redis) -> None:
    store = TaskStore(redis, b"celery-task-meta-", 60)
    task_id = str(uuid.uuid4())
    await add_segments(redis, task_id, 1)

    impatient = asyncio.create_task(store.read_segments({task_id: None}))
    patient = asyncio.create_task(store.read_segments({task_id: None}))
    await asyncio.sleep(0)  # both have asked; the round trip is under way
    impatient.cancel()

    assert len((await patient)[task_id]) == 1
    with pytest.raises(asyncio.CancelledError):
        await impatient


async def test_every_reader_hears_that_redis_is_unreachable(redis_server: RedisServer) -> None:
    gone = Redis(host=redis_server.host, port=1, socket_connect_timeout=1)  # nothing listens there
    store = TaskStore(gone, b"celery-task-meta-", 60)
    results = await asyncio.gather(
        store.read_segments({str(uuid.uuid4()): None}),
        store.read_segments({str(uuid.uuid4()): None}),
        return_exceptions=True,
    )
    await gone.aclose()

    assert [type(result) for result in results] == [ServiceUnavailable, ServiceUnavailable]
    assert results[0] is not results[1]

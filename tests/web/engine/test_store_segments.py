"""TaskStore.read_segments against a real Redis: reads made in one turn share a round trip,
and each caller still gets its own tasks' segments, from its own positions, or its own error."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, OutOfMemoryError, ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from live_progress.contract import segments_key
from live_progress.launch.redis_server import RedisServer
from live_progress.web.engine.store import TaskStore, redis_errors, unavailable
from live_progress.web.errors import ServiceBusy, ServiceUnavailable


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


async def test_a_command_redis_refuses_fails_only_the_read_that_sent_it(redis: Redis) -> None:
    # The store is not where client values are checked (the endpoints are), but were one to
    # slip by, it must not take down the reads that shared its round trip, nor pass for an outage.
    store = TaskStore(redis, b"celery-task-meta-", 60)
    task_id, other = str(uuid.uuid4()), str(uuid.uuid4())
    ids = await add_segments(redis, task_id, 2)
    await add_segments(redis, other, 1)

    before, bad, after, both = await asyncio.gather(
        store.read_segments({task_id: None}),
        store.read_segments({task_id: "notanid"}),
        store.read_segments({task_id: ids[1]}),
        store.read_segments({other: None, task_id: "18446744073709551616-0"}),
        return_exceptions=True,
    )

    assert [event.id for event in before[task_id]] == ids
    assert [event.id for event in after[task_id]] == ids[1:]
    for refused in (bad, both):
        assert isinstance(refused, ResponseError) and not isinstance(refused, ServiceUnavailable), refused
        assert "Invalid stream ID" in str(refused)


def test_only_redis_not_answering_or_not_serving_is_an_outage() -> None:
    pool_empty = RedisConnectionError("No connection available.")
    pool_empty.__cause__ = TimeoutError()
    assert type(unavailable(pool_empty)) is ServiceBusy
    for down in (RedisConnectionError("refused"), RedisTimeoutError("timed out"), ConnectionResetError()):
        outage = unavailable(down)
        assert type(outage) is ServiceUnavailable and str(outage).startswith("Redis is unreachable")
    for not_serving in (ReadOnlyError("READONLY You can't write against a read only replica."), OutOfMemoryError()):
        outage = unavailable(not_serving)
        assert type(outage) is ServiceUnavailable and str(outage).startswith("Redis cannot serve requests now")
    for commands_fault in (ResponseError("Invalid stream ID"), ResponseError("WRONGTYPE"), DataError("bad value")):
        assert unavailable(commands_fault) is None
        with pytest.raises(type(commands_fault)), redis_errors():
            raise commands_fault

"""What a read says when Redis cannot answer it, against a real redis-server."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import BlockingConnectionPool, Redis

from live_progress.launch.redis_server import RedisServer
from live_progress.web.engine.store import TaskStore
from live_progress.web.errors import ServiceUnavailable
from tests.support.eventually import eventually

PREFIX = b"celery-task-meta-"


async def test_a_read_that_finds_every_connection_busy_says_so_not_that_redis_is_unreachable(
    redis_server: RedisServer,
) -> None:
    pool = BlockingConnectionPool.from_url(redis_server.url, max_connections=1, timeout=0.2)
    redis = Redis(connection_pool=pool)
    store = TaskStore(redis, PREFIX, 60)
    # The pool's one connection is busy waiting on an empty list, until the test pushes to it.
    waited_on = f"nothing-{uuid.uuid4()}"
    busy = asyncio.create_task(redis.blpop([waited_on], timeout=60))
    other = SyncRedis.from_url(redis_server.url)
    try:
        await eventually(
            lambda: any(client["cmd"] == "blpop" for client in other.client_list()), what="the BLPOP under way"
        )
        with pytest.raises(ServiceUnavailable, match="all are busy") as raised:
            await store.read_issued(str(uuid.uuid4()))
        assert "unreachable" not in str(raised.value)
    finally:
        other.lpush(waited_on, b"done")
        await busy
        other.close()
        await redis.aclose()
        await pool.aclose()


async def test_a_read_from_a_redis_that_is_not_there_says_it_is_unreachable(redis_server: RedisServer) -> None:
    gone = Redis(host=redis_server.host, port=1, socket_connect_timeout=1)  # nothing listens there
    try:
        with pytest.raises(ServiceUnavailable, match="Redis is unreachable"):
            await TaskStore(gone, PREFIX, 60).read_issued(str(uuid.uuid4()))
    finally:
        await gone.aclose()

"""What a read says when Redis cannot answer it, against a real redis-server."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import BlockingConnectionPool, Redis

from live_progress.launch.redis_server import RedisServer
from live_progress.web.engine.store import TaskStore
from live_progress.web.errors import ServiceUnavailable

PREFIX = b"celery-task-meta-"


async def test_a_read_that_finds_every_connection_busy_says_so_not_that_redis_is_unreachable(
    redis_server: RedisServer,
) -> None:
    pool = BlockingConnectionPool.from_url(redis_server.url, max_connections=1, timeout=0.2)
    redis = Redis(connection_pool=pool)
    store = TaskStore(redis, PREFIX, 60)
    # The pool's one connection is busy for a second, waiting on an empty list.
    busy = asyncio.create_task(redis.blpop([f"nothing-{uuid.uuid4()}"], timeout=1))
    await asyncio.sleep(0.05)
    try:
        with pytest.raises(ServiceUnavailable, match="all are busy") as raised:
            await store.read_issued(str(uuid.uuid4()))
        assert "unreachable" not in str(raised.value)
    finally:
        await busy
        await redis.aclose()
        await pool.aclose()


async def test_a_read_from_a_redis_that_is_not_there_says_it_is_unreachable(redis_server: RedisServer) -> None:
    gone = Redis(host=redis_server.host, port=1, socket_connect_timeout=1)  # nothing listens there
    try:
        with pytest.raises(ServiceUnavailable, match="Redis is unreachable"):
            await TaskStore(gone, PREFIX, 60).read_issued(str(uuid.uuid4()))
    finally:
        await gone.aclose()

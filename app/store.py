"""Reading task states from Redis, and remembering which task ids this service issued."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.errors import ServiceUnavailable
from app.events import TaskEvent, event_for_meta

_ISSUED_PREFIX = "live-progress:issued:"


@contextlib.contextmanager
def redis_errors() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable(f"Redis is unreachable: {exc}") from exc


class TaskStore:
    def __init__(self, redis: Redis, key_prefix: bytes, issued_ttl: int) -> None:
        self._redis = redis
        self._key_prefix = key_prefix
        self._issued_ttl = issued_ttl

    async def read_event(self, task_id: str) -> TaskEvent:
        """The task's current state, read once (state and meta from the same read)."""
        with redis_errors():
            raw = await self._redis.get(self._key_prefix + task_id.encode())
        return event_for_meta(raw)

    async def record_issued(self, task_id: str, endpoint: str) -> None:
        # Kept as long as Celery keeps the result, so an id is known exactly while it has one.
        with redis_errors():
            await self._redis.set(_ISSUED_PREFIX + task_id, endpoint, ex=self._issued_ttl)

    async def issued_by(self, task_id: str) -> str | None:
        """The endpoint that issued ``task_id``, or None for an id this service never issued."""
        with redis_errors():
            endpoint = await self._redis.get(_ISSUED_PREFIX + task_id)
        return endpoint.decode() if endpoint is not None else None

    async def ping(self) -> None:
        with redis_errors():
            await self._redis.ping()

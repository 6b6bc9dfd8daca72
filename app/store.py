"""Reading task states from Redis, and remembering which task ids this service issued."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.errors import ServiceUnavailable
from app.events import WORKER_LOST_EVENT, TaskEvent, event_for_meta
from contract import heartbeat_key

logger = logging.getLogger(__name__)

_ISSUED_PREFIX = "live-progress:issued:"


@contextlib.contextmanager
def redis_errors() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable(f"Redis is unreachable: {exc}") from exc


class TaskStore:
    def __init__(
        self, redis: Redis, key_prefix: bytes, issued_ttl: int, mark_lost: Callable[[str], Awaitable[None]]
    ) -> None:
        self._redis = redis
        self._key_prefix = key_prefix
        self._issued_ttl = issued_ttl
        self._mark_lost = mark_lost

    async def read_event(self, task_id: str) -> TaskEvent:
        """The task's current state, read once (state and meta from the same read)."""
        return (await self.read_events([task_id]))[0]

    async def read_events(self, task_ids: list[str]) -> list[TaskEvent]:
        """The tasks' current states, with their heartbeats, in one round trip.

        A task that a worker was executing but whose heartbeat has run out lost its worker:
        it is recorded as failed (so every watcher and poller hears it) and read as such.
        """
        keys: list[bytes | str] = []
        for task_id in task_ids:
            keys += [self._key_prefix + task_id.encode(), heartbeat_key(task_id)]
        with redis_errors():
            values = await self._redis.mget(keys)
        events = []
        for task_id, raw, heartbeat in zip(task_ids, values[::2], values[1::2], strict=True):
            event = event_for_meta(raw)
            if event.executing and heartbeat is None:
                logger.warning("Task %s has no heartbeat: its worker is lost", task_id)
                await self._mark_lost(task_id)
                event = WORKER_LOST_EVENT
            events.append(event)
        return events

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

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
        return [
            await self._event(task_id, raw, heartbeat)
            for task_id, raw, heartbeat in zip(task_ids, values[::2], values[1::2], strict=True)
        ]

    async def read_issued(self, task_id: str) -> tuple[str | None, TaskEvent]:
        """The endpoint that issued ``task_id`` (None: this service never did, or it expired)
        and the task's current state, in one round trip."""
        keys = [_ISSUED_PREFIX + task_id, self._key_prefix + task_id.encode(), heartbeat_key(task_id)]
        with redis_errors():
            endpoint, raw, heartbeat = await self._redis.mget(keys)
        if endpoint is None:
            # Not ours: its state, if any, belongs to someone else's Celery app; never mark it.
            return None, event_for_meta(raw)
        return endpoint.decode(), await self._event(task_id, raw, heartbeat)

    async def _event(self, task_id: str, raw: bytes | None, heartbeat: bytes | None) -> TaskEvent:
        event = event_for_meta(raw)
        if event.executing and heartbeat is None:
            logger.warning("Task %s has no heartbeat: its worker is lost", task_id, extra={"task_id": task_id})
            await self._mark_lost(task_id)
            return WORKER_LOST_EVENT
        return event

    async def record_issued(self, task_id: str, endpoint: str) -> None:
        # Kept as long as Celery keeps the result, so an id is known exactly while it has one.
        with redis_errors():
            await self._redis.set(_ISSUED_PREFIX + task_id, endpoint, ex=self._issued_ttl)

    async def ping(self) -> None:
        with redis_errors():
            await self._redis.ping()

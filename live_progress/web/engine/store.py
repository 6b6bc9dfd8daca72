"""Reading task states from Redis, and remembering which task ids this service issued."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping

from redis import exceptions as redis_exceptions
from redis.asyncio import Redis

from live_progress.contract import heartbeat_key, segments_key
from live_progress.web.engine.events import TaskEvent, event_for_meta, segment_event
from live_progress.web.errors import ServiceBusy, ServiceUnavailable

_ISSUED_PREFIX = "live-progress:issued:"

_SegmentReads = list[tuple[dict[str, str | None], "asyncio.Future[dict[str, list[TaskEvent]]]"]]

# Redis does not answer: the connection failed, timed out or broke mid-reply.
_UNREACHABLE = (
    redis_exceptions.ConnectionError,
    redis_exceptions.TimeoutError,
    redis_exceptions.InvalidResponse,
    OSError,
)
# Redis answers, but cannot serve anyone now (a replica being failed over to, loading its
# data, out of memory): as much an outage, and no client's doing.
_NOT_SERVING = (
    redis_exceptions.ReadOnlyError,
    redis_exceptions.OutOfMemoryError,
    redis_exceptions.ClusterDownError,
    redis_exceptions.TryAgainError,
)


def unavailable(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 that a Redis error is, if it is one: Redis did not answer, or cannot serve
    anyone now. Any other (a ``ResponseError`` to one command: an id Redis cannot read, a key
    of the wrong type) is that command's own fault, never an outage: None."""
    if isinstance(exc, redis_exceptions.ConnectionError) and isinstance(exc.__cause__, TimeoutError):
        # redis-py's BlockingConnectionPool found no free connection in time: Redis is
        # there, this process has every one of its connections busy.
        return ServiceBusy(
            "This process waited too long for one of its Redis connections (all are busy); try again shortly"
        )
    if isinstance(exc, _UNREACHABLE):
        return ServiceUnavailable(f"Redis is unreachable: {exc}")
    if isinstance(exc, _NOT_SERVING):
        return ServiceUnavailable(f"Redis cannot serve requests now: {exc}")
    return None


@contextlib.contextmanager
def redis_errors() -> Iterator[None]:
    """Turns Redis not answering into ``ServiceUnavailable`` (a 503); an error in reply to a
    command goes on as it is (a 500, logged: no client value reaches Redis unchecked)."""
    try:
        yield
    except Exception as exc:
        outage = unavailable(exc)
        if outage is None:
            raise
        raise outage from exc


class TaskStore:
    """Reads only: deciding that a task is lost is live_progress/web/engine/liveness.py's job, not a reader's."""

    def __init__(self, redis: Redis, key_prefix: bytes, issued_ttl: int) -> None:
        self._redis = redis
        self._key_prefix = key_prefix
        self._issued_ttl = issued_ttl
        self._segment_reads: _SegmentReads | None = None  # waiting for this turn's round trip
        self._reading: set[asyncio.Task[None]] = set()

    async def read_with_heartbeats(self, task_ids: list[str]) -> list[tuple[TaskEvent, bool]]:
        """Each task's current state, and whether a worker keeps a heartbeat for it, in one round trip."""
        keys: list[bytes | str] = []
        for task_id in task_ids:
            keys += [self._key_prefix + task_id.encode(), heartbeat_key(task_id)]
        with redis_errors():
            values = await self._redis.mget(keys)
        return [(event_for_meta(raw), beat is not None) for raw, beat in zip(values[::2], values[1::2], strict=True)]

    async def read_issued(self, task_id: str) -> tuple[str | None, TaskEvent]:
        """The endpoint that issued ``task_id`` (None: this service never did, or it expired)
        and the task's current state, in one round trip."""
        with redis_errors():
            endpoint, raw = await self._redis.mget([_ISSUED_PREFIX + task_id, self._key_prefix + task_id.encode()])
        return (endpoint.decode() if endpoint is not None else None), event_for_meta(raw)

    async def read_issued_for_cache(self, task_id: str) -> tuple[str | None, TaskEvent, bool]:
        """``read_issued``, and whether the task has live results, in one round trip."""
        with redis_errors():
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.mget([_ISSUED_PREFIX + task_id, self._key_prefix + task_id.encode()])
                pipe.exists(segments_key(task_id))
                (endpoint, raw), segments = await pipe.execute()
        return (endpoint.decode() if endpoint is not None else None), event_for_meta(raw), bool(segments)

    async def read_segments(self, after: Mapping[str, str | None]) -> dict[str, list[TaskEvent]]:
        """Each task's live results from the entry ``after`` names on (that one included: the
        stream skips what the client has), or from the start.

        Every stream reads them as it opens, so the calls made in one turn of the event loop
        share one round trip: a crowd of clients (re)connecting at once costs a pipeline, not
        a pipeline each.
        """
        loop = asyncio.get_running_loop()
        if self._segment_reads is None:
            self._segment_reads = []
            loop.call_soon(self._read_queued_segments)
        future: asyncio.Future[dict[str, list[TaskEvent]]] = loop.create_future()
        self._segment_reads.append((dict(after), future))
        return await future

    def _read_queued_segments(self) -> None:
        reads, self._segment_reads = self._segment_reads or [], None
        self._reading.add(task := asyncio.create_task(self._read_segments(reads)))
        task.add_done_callback(self._reading.discard)

    async def _read_segments(self, reads: _SegmentReads) -> None:
        """One pipeline for every read queued in a turn. A command Redis refuses fails the read
        that asked for it and no other: the pipeline reports each command's error in its place
        (``raise_on_error=False``) instead of raising the first for all of them."""
        try:
            with redis_errors():
                async with self._redis.pipeline(transaction=False) as pipe:
                    for after, _ in reads:
                        for task_id, entry_id in after.items():
                            pipe.xrange(segments_key(task_id), entry_id or "-", "+")
                    replies = iter(await pipe.execute(raise_on_error=False))
        except asyncio.CancelledError:
            for _, future in reads:
                future.cancel()
            raise
        except Exception as exc:
            for _, future in reads:
                if not future.done():
                    # One each: an exception raised in several tasks would gather all their tracebacks.
                    future.set_exception(ServiceUnavailable(str(exc)) if isinstance(exc, ServiceUnavailable) else exc)
            return
        for after, future in reads:
            mine = [next(replies) for _ in after]
            if future.done():
                continue
            try:
                segments = {task_id: _segment_events(reply) for task_id, reply in zip(after, mine, strict=True)}
            except Exception as exc:  # this read's own command failed, or its entries are unreadable
                future.set_exception(exc)
            else:
                future.set_result(segments)

    async def record_issued(self, task_id: str, endpoint: str) -> None:
        # Kept as long as Celery keeps the result, so an id is known exactly while it has one.
        with redis_errors():
            await self._redis.set(_ISSUED_PREFIX + task_id, endpoint, ex=self._issued_ttl)

    async def ping(self) -> None:
        with redis_errors():
            await self._redis.ping()


def _segment_events(reply: object) -> list[TaskEvent]:
    """The events of one XRANGE reply, as the pipeline gave it: a command's error comes back in
    its place, and is raised here for the read that sent it alone (a 503 only if it says Redis
    is not serving)."""
    if isinstance(reply, BaseException):
        outage = unavailable(reply)
        if outage is not None:
            raise outage from reply
        raise reply
    assert isinstance(reply, list)
    return [segment_event(entry_id + b" " + fields[b"root"]) for entry_id, fields in reply]

"""One Redis subscription per process, fanned out to every watcher of every task."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from live_progress.contract import SEGMENTS_PREFIX
from live_progress.web.engine.events import TaskEvent, after_last, event_for_meta, segment_event, stream_lost_event
from live_progress.web.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

_IDLE_PING_SECONDS = 15.0
_SEGMENTS = SEGMENTS_PREFIX.encode()


class Wake:
    """What ``asyncio.Event`` does for one waiter (set, clear, wait), in a tenth of its memory:
    an Event keeps a deque for its waiters (760 bytes each on CPython 3.11), and every open
    stream has one of these."""

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        """Returns once set; for one waiter at a time (a stream's own task)."""
        if self._set:
            return
        if self._waiter is None or self._waiter.done():
            self._waiter = asyncio.get_running_loop().create_future()
        await self._waiter


class Inbox:
    """One watcher's bounded queue. When it is full the oldest state goes: progress is state,
    so the latest wins, and a final event, always the last one, is never the one dropped.
    Segments are a log, never dropped: a client that stops reading is cut off by the send
    timeout long before they add up.

    A list, not a deque: it is mostly empty, and an empty deque takes 760 bytes."""

    __slots__ = ("_counts", "_events", "_maxsize", "_ready")

    def __init__(self, maxsize: int, counts: collections.Counter[str] | None = None, ready: Wake | None = None) -> None:
        if maxsize < 2:
            raise ValueError(f"maxsize has value {maxsize!r}; it must be at least 2")
        self._counts = counts if counts is not None else collections.Counter()
        self._events: list[TaskEvent] = []
        self._maxsize = maxsize
        # Set on every put; several inboxes may share one, so one waiter can watch them all.
        self._ready = ready or Wake()

    def put(self, event: TaskEvent) -> None:
        self._counts[event.kind] += 1
        if len(self._events) >= self._maxsize:
            self._drop_oldest_state()
        self._events.append(event)
        self._ready.set()

    def _drop_oldest_state(self) -> None:
        for index, queued in enumerate(self._events):
            if queued.kind != "segment":
                del self._events[index]
                return

    async def get(self) -> TaskEvent:
        while not self._events:
            self._ready.clear()
            await self._ready.wait()
        return self._events.pop(0)

    def pop(self) -> TaskEvent | None:
        """The oldest queued event, without waiting; None when there is none."""
        return self._events.pop(0) if self._events else None

    def discard_through(self, event_id: str | None) -> None:
        """Drop queued states up to and including the last one with ``event_id``, if any
        (segments stay: the stream skips those the client has by their ids)."""
        kept = after_last(self._events, event_id)
        dropped = len(self._events) - len(kept)
        self._events = [e for e in self._events[:dropped] if e.kind == "segment"] + kept


class Listener(Protocol):
    def put(self, event: TaskEvent) -> None: ...


class Follower:
    """A listener of one task at a time, from ``follow`` to ``stop`` (the state cache's entries,
    the metrics' timings); subclasses say what to do with each event (``put``)."""

    _following: tuple[StateHub, str] | None = None

    def follow(self, hub: StateHub, task_id: str) -> None:
        hub.follow(task_id, self)
        self._following = hub, task_id

    def stop(self) -> None:
        following, self._following = self._following, None
        if following is not None:
            hub, task_id = following
            hub.unfollow(task_id, self)

    def put(self, event: TaskEvent) -> None:
        raise NotImplementedError


class StateHub:
    """Listens to every task-state message Celery publishes and hands each to its watchers.

    Celery's Redis backend publishes each stored state on a channel named like the key it
    stores it under; one pattern subscription covers all of them. A message is decoded and
    encoded once, however many watchers its task has.
    """

    def __init__(
        self, redis: Redis, channel_prefix: bytes, queue_size: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._redis = redis
        self._prefix = channel_prefix
        self._queue_size = queue_size
        self._clock = clock
        self._watchers: dict[bytes, set[Listener]] = {}
        # When each followed task's latest state was published, or when following it began.
        self._heard: dict[bytes, float] = {}
        self._pongs: dict[bytes, asyncio.Future[None]] = {}
        self._next_sync: asyncio.Future[None] | None = None
        self._sync_pings: set[asyncio.Task[None]] = set()
        self._tokens = itertools.count()
        self._pubsub = None
        self._subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0
        # Events handed to streams, by kind; read by the metrics at scrape time.
        self.handed_out: collections.Counter[str] = collections.Counter()

    @property
    def connected(self) -> bool:
        return self._subscribed.is_set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="state-hub")

    async def wait_connected(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout)
        return self.connected

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def watched_task_ids(self) -> list[str]:
        return [channel[len(self._prefix) :].decode() for channel in self._watchers]

    def quiet_tasks(self, longer_than: float) -> list[str]:
        """Followed tasks of which no state has been published for ``longer_than`` seconds
        (counted from when this process began following them)."""
        since = self._clock() - longer_than
        return [channel[len(self._prefix) :].decode() for channel, heard in self._heard.items() if heard <= since]

    def open(self, task_id: str, ready: Wake | None = None) -> Inbox:
        """An inbox that receives every state of ``task_id`` from now on, until ``unfollow``.

        ``ready``, when given, is set whenever the inbox gets an event (see Inbox)."""
        if not self.connected:
            raise ServiceUnavailable("Not subscribed to Redis; try again shortly")
        inbox = Inbox(self._queue_size, self.handed_out, ready)
        self.follow(task_id, inbox)
        return inbox

    def follow(self, task_id: str, listener: Listener) -> None:
        """Hand ``listener`` every state of ``task_id`` from now on, until ``unfollow``.

        (No closure to stop with: a listener that kept one would hold itself in a cycle, left
        for the cyclic GC, which the web runs rarely.)"""
        channel = self._prefix + task_id.encode()
        listeners = self._watchers.get(channel)
        if listeners is None:
            listeners = self._watchers[channel] = set()
            self._heard[channel] = self._clock()
        listeners.add(listener)

    def unfollow(self, task_id: str, listener: Listener) -> None:
        channel = self._prefix + task_id.encode()
        listeners = self._watchers.get(channel)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._watchers[channel]
                del self._heard[channel]

    async def sync(self) -> None:
        """Wait until every message Redis published before this call has been handed out.

        A PING on the subscription's own connection is answered after everything already
        queued on it, so its reply is a barrier between older and newer messages. Callers
        in the same turn of the event loop share one PING: it is sent after all of them
        asked, so it is a barrier for each (a burst of connecting streams costs one).
        """
        if self._pubsub is None:
            return
        if self._next_sync is None:
            self._next_sync = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self._send_sync)
        await asyncio.shield(self._next_sync)

    def _send_sync(self) -> None:
        pong, self._next_sync = self._next_sync, None
        assert pong is not None
        pubsub = self._pubsub
        if pubsub is None:
            pong.set_result(None)
            return
        token = str(next(self._tokens)).encode()
        self._pongs[token] = pong

        async def ping() -> None:
            try:
                await pubsub.ping(token)
            except (RedisError, OSError):
                # The listener notices too and ends every stream; nobody waits for this pong.
                self._pongs.pop(token, None)
                if not pong.done():
                    pong.set_result(None)

        self._sync_pings.add(task := asyncio.create_task(ping()))
        task.add_done_callback(self._sync_pings.discard)

    async def _run(self) -> None:
        delay = 0.1
        while True:
            pubsub = self._redis.pubsub()
            try:
                # Task states as Celery publishes them; live results as workers publish them.
                await pubsub.psubscribe(self._prefix + b"*", _SEGMENTS + b"*")
                self._pubsub = pubsub
                while True:
                    message = await pubsub.get_message(timeout=_IDLE_PING_SECONDS)
                    if message is None:
                        # A quiet connection may be a dead one: writing to it finds out.
                        await pubsub.ping()
                        continue
                    self._dispatch(message)
                    delay = 0.1
            except (RedisError, OSError) as exc:
                logger.warning("Lost the Redis subscription (%s); retrying in %.1f s", exc, delay)
            finally:
                was_connected = self.connected
                self._subscribed.clear()
                self._pubsub = None
                self._end_all_streams("Lost the connection to Redis")
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            if was_connected:
                self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _dispatch(self, message: dict) -> None:
        kind = message["type"]
        if kind == "pmessage":
            channel: bytes = message["channel"]
            segment = channel.startswith(_SEGMENTS)
            if segment:  # followers are listed under the task's state channel
                channel = self._prefix + channel[len(_SEGMENTS) :]
            inboxes = self._watchers.get(channel)
            if inboxes:
                # Whoever wrote it, a state or a segment is a sign of life (live_progress/web/engine/liveness.py).
                self._heard[channel] = self._clock()
                try:
                    event = segment_event(message["data"]) if segment else event_for_meta(message["data"])
                except Exception:
                    # One task's odd message must not stop every other task's streams.
                    logger.exception("Cannot turn the message on %r into an event", message["channel"])
                    return
                # A copy: a listener may stop following from inside put().
                for listener in tuple(inboxes):
                    listener.put(event)
        elif kind == "pong":
            pong = self._pongs.pop(message["data"], None)
            if pong is not None and not pong.done():
                pong.set_result(None)
        elif kind == "psubscribe" and message["data"] == 2:  # both patterns
            logger.info("Subscribed to task states (%s*) and live results (%s*)", self._prefix.decode(), _SEGMENTS)
            self._subscribed.set()

    def _end_all_streams(self, reason: str) -> None:
        lost = stream_lost_event(reason)
        # Copies: a listener may stop following from inside put().
        for listeners in list(self._watchers.values()):
            for listener in tuple(listeners):
                listener.put(lost)
        for pong in self._pongs.values():
            if not pong.done():
                pong.set_result(None)
        self._pongs.clear()

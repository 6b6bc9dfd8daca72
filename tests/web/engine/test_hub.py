"""The fan-out against a real redis-server, states written by Celery's own backend."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import uuid
from collections.abc import AsyncIterator, Callable

import orjson
import pytest
from celery import Celery
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff

from live_progress.contract import PROGRESS_STATE, celery_config, progress_meta
from live_progress.launch.redis_server import RedisServer
from live_progress.web.engine.cache import StateCache
from live_progress.web.engine.hub import StateHub, Wake
from live_progress.web.engine.store import TaskStore
from live_progress.web.engine.streaming import Cursor, task_frames
from live_progress.worker.heartbeat import Heartbeats
from tests.support.eventually import eventually

pytestmark = pytest.mark.integration

PREFIX = b"celery-task-meta-"
ENDPOINT = "/audio/transcribe"


def store_once(url: str, task_id: str, result: object, state: str) -> None:
    """One state stored as a Celery worker stores it, by a client closed right after."""
    celery = celery_for(url)
    try:
        celery.backend.store_result(task_id, result, state)
    finally:
        celery.backend.client.close()
        celery.close()


def celery_for(url: str) -> Celery:
    celery = Celery("writer")
    celery.conf.update(celery_config(url, url, 3600))
    return celery


async def running_hub(url: str) -> tuple[StateHub, TaskStore, Redis, Redis]:
    listener = Redis.from_url(url, retry=Retry(NoBackoff(), 0))
    redis = Redis.from_url(url, retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2))
    hub = StateHub(listener, PREFIX, queue_size=1000)
    await hub.start()
    assert await hub.wait_connected(5)
    return hub, TaskStore(redis, PREFIX, 3600), redis, listener


@pytest.fixture
async def hub_and_store(redis_server: RedisServer) -> AsyncIterator[tuple[StateHub, TaskStore]]:
    hub, store, redis, listener = await running_hub(redis_server.url)
    yield hub, store
    await hub.stop()
    await redis.aclose()
    await listener.aclose()


def parse_frames(frames: list[bytes]) -> list[tuple[str, dict]]:
    events = []
    # A frame may carry several events (what had queued up), each ending with a blank line.
    for block in b"".join(frames).split(b"\n\n"):
        fields = dict(line.split(b": ", 1) for line in block.strip().split(b"\n") if b": " in line)
        if b"data" in fields:
            events.append((fields[b"event"].decode(), orjson.loads(fields[b"data"])))
    return events


async def stream(hub: StateHub, cache: StateCache, task_id: str) -> AsyncIterator[bytes]:
    """What the events endpoint does: follow the task, then read it (from the cache, as the
    endpoint does: a state it holds, or one read past the barrier), then stream."""
    ready = Wake()
    inbox = hub.open(task_id, ready)
    try:
        endpoint, snapshot = cache.peek(task_id) or await cache.read_issued(task_id)
        assert endpoint == ENDPOINT
        async for frame in task_frames(Cursor(inbox, snapshot, None), ready, 1000):
            if frame:  # b"": woken with nothing new
                yield frame
    finally:
        hub.unfollow(task_id, inbox)


async def collect(frames: AsyncIterator[bytes]) -> list[bytes]:
    return [frame async for frame in frames]


async def write_in_thread(write: Callable[[], None]) -> None:
    await asyncio.to_thread(write)


async def test_every_watcher_sees_every_state_once_in_order(
    redis_server: RedisServer, hub_and_store: tuple[StateHub, TaskStore]
) -> None:
    """Watchers that join while states are being written still see a gapless tail, in order,
    with nothing twice: the watch starts before the snapshot, and the barrier drops what the
    snapshot already covered."""
    hub, store = hub_and_store
    backend = celery_for(redis_server.url).backend
    task_id = str(uuid.uuid4())
    await store.record_issued(task_id, ENDPOINT)
    cache = StateCache(hub, store)  # shared: the first watcher reads, later ones may find it held
    steps = 300
    # Each watcher joins once the writer has written its step (0: before the first), and the
    # result waits until all have their first frame: every one joins while the task runs.
    joins = sorted(random.randrange(steps + 1) for _ in range(40))
    written = 0
    opened = 0
    all_opened = threading.Event()

    def write_states() -> None:
        nonlocal written
        # As a worker does: a heartbeat while the task runs.
        heartbeats = Heartbeats(lambda: backend.client, ttl=30)
        heartbeats.started(task_id)
        for step in range(steps):
            backend.store_result(task_id, progress_meta(step * 99 // steps, f"step {step}"), PROGRESS_STATE)
            written = step + 1
        assert all_opened.wait(60), f"{opened} of {len(joins)} watchers had their first frame"
        backend.store_result(task_id, {"output_type": "batchtext", "texts": []}, "SUCCESS")
        heartbeats.finished(task_id)

    async def watcher(joins_at: int) -> list[bytes]:
        nonlocal opened
        await eventually(lambda: written >= joins_at, timeout=60, interval=0.001, what=f"step {joins_at} written")
        frames = []
        async for frame in stream(hub, cache, task_id):
            frames.append(frame)
            if len(frames) == 1:
                opened += 1
                if opened == len(joins):
                    all_opened.set()
        return frames

    try:
        results = await asyncio.wait_for(
            asyncio.gather(write_in_thread(write_states), *(watcher(at) for at in joins)), 120
        )
    finally:
        all_opened.set()  # the writer's thread never waits on a test that has failed
        backend.client.close()

    for joined, frames in zip(joins, results[1:], strict=True):
        events = parse_frames(frames)
        assert events[-1][0] == "result"
        steps_seen = [int(data["root"]["description"].split()[1]) for kind, data in events[:-1] if kind == "progress"]
        # From the first state it saw (the latest when it joined), a watcher misses nothing.
        assert steps_seen, f"the watcher that joined at step {joined} saw no progress: {events}"
        assert steps_seen == list(range(steps_seen[0], steps)), f"joined at step {joined}: {steps_seen}"


async def test_a_watcher_of_a_finished_task_gets_the_result_and_the_stream_ends(
    redis_server: RedisServer, hub_and_store: tuple[StateHub, TaskStore]
) -> None:
    hub, store = hub_and_store
    task_id = str(uuid.uuid4())
    await store.record_issued(task_id, ENDPOINT)
    await write_in_thread(lambda: store_once(redis_server.url, task_id, {"texts": []}, "SUCCESS"))
    frames = await asyncio.wait_for(collect(stream(hub, StateCache(hub, store), task_id)), 5)
    assert [kind for kind, _ in parse_frames(frames)] == ["result"]
    assert frames[0].startswith(b"retry: 1000\n")


async def test_a_redis_restart_ends_open_streams_with_an_error_and_the_hub_resubscribes() -> None:
    with RedisServer() as server:
        hub, store, redis, listener = await running_hub(server.url)
        try:
            task_id = str(uuid.uuid4())
            await store.record_issued(task_id, ENDPOINT)
            cache = StateCache(hub, store)
            watching = asyncio.create_task(collect(stream(hub, cache, task_id)))
            await eventually(lambda: hub._watchers, what="the stream to start watching")
            server.stop()
            frames = await asyncio.wait_for(watching, 10)
            kinds = parse_frames(frames)
            assert kinds[0][0] == "status"
            assert kinds[-1][0] == "error" and kinds[-1][1]["reconnect"] is True
            assert not hub.connected

            server.start()
            assert await hub.wait_connected(15)
            assert hub.reconnects == 1
            await write_in_thread(lambda: store_once(server.url, task_id, {"texts": []}, "SUCCESS"))
            await store.record_issued(task_id, ENDPOINT)  # in case this Redis kept nothing
            frames = await asyncio.wait_for(collect(stream(hub, cache, task_id)), 5)
            assert [kind for kind, _ in parse_frames(frames)] == ["result"]
        finally:
            await hub.stop()
            await redis.aclose()
            await listener.aclose()


class LaggingProxy:
    """A TCP proxy to Redis that hands on what Redis sends ``delay`` seconds late, in order:
    a subscription that is behind, as it is under load or across a slow link."""

    def __init__(self, port: int, delay: float) -> None:
        self.port, self.delay = port, delay
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        for writer in self.writers:  # both ends of every connection it proxied
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _connection(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        redis_in, redis_out = await asyncio.open_connection("127.0.0.1", self.port)
        self.writers += [client_out, redis_out]
        loop = asyncio.get_running_loop()

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, delay: float) -> None:
            while chunk := await source.read(65536):
                if delay:
                    loop.call_later(delay, sink.write, chunk)
                else:
                    sink.write(chunk)
            sink.close()

        with contextlib.suppress(ConnectionError):
            await asyncio.gather(pump(client_in, redis_out, 0), pump(redis_in, client_out, self.delay))


async def test_a_watcher_that_opens_while_the_subscription_lags_gets_nothing_older_than_its_snapshot(
    redis_server: RedisServer,
) -> None:
    """States written just before a stream opens, whose messages reach the hub 0.3 s late (a
    proxy holds them): the snapshot, read straight from Redis, is the latest state, and the
    older messages the hub hands out after the stream opened are not sent after it. The
    barrier the state cache's read waits for is what holds them back."""
    async with LaggingProxy(redis_server.port, 0.3) as lagging_port:
        listener = Redis(port=lagging_port, retry=Retry(NoBackoff(), 0))
        redis = Redis.from_url(redis_server.url)
        hub = StateHub(listener, PREFIX, queue_size=1000)
        celery = celery_for(redis_server.url)
        await hub.start()
        try:
            assert await hub.wait_connected(5)
            store = TaskStore(redis, PREFIX, 3600)
            backend = celery.backend
            task_id = str(uuid.uuid4())
            await store.record_issued(task_id, ENDPOINT)
            steps = 20
            for step in range(steps):
                backend.store_result(task_id, progress_meta(step * 5, f"step {step}"), PROGRESS_STATE)

            # Read as the endpoint reads: right on, frame after frame, while the messages lag.
            watching = asyncio.create_task(collect(stream(hub, StateCache(hub, store), task_id)))
            # The old messages reach the hub after the stream opened, and go to its inbox.
            await eventually(
                lambda: hub.handed_out["progress"] >= steps, what=f"the {steps} lagging states handed to the stream"
            )
            await write_in_thread(lambda: backend.store_result(task_id, {"texts": []}, "SUCCESS"))
            received = await asyncio.wait_for(watching, 5)
        finally:
            await hub.stop()
            await redis.aclose()
            await listener.aclose()
            celery.backend.client.close()
            celery.close()

    events = parse_frames(received)
    assert [kind for kind, _ in events] == ["progress", "result"], [data for _, data in events]
    assert events[0][1]["root"]["description"] == f"step {steps - 1}"

"""Which tasks are lost with their worker, judged against a real redis-server and states written
by Celery's own backend from an app that shares no code with the worker (a foreign writer)."""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from celery import Celery
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from live_progress.contract import PROGRESS_STATE, celery_config, heartbeat_key
from live_progress.launch.redis_server import RedisServer
from live_progress.web.engine.broker import TaskBroker
from live_progress.web.engine.events import WORKER_LOST_EVENT
from live_progress.web.engine.hub import StateHub
from live_progress.web.engine.liveness import Liveness
from live_progress.web.engine.store import TaskStore

pytestmark = pytest.mark.integration

PREFIX = b"celery-task-meta-"
LOST_AFTER = 5.0


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    hub: StateHub
    liveness: Liveness
    clock: ManualClock
    foreign: Celery  # writes states the way any Celery app does: backend.store_result
    broker: TaskBroker

    def write(self, task_id: str, state: str, meta: dict) -> None:
        self.foreign.backend.store_result(task_id, meta, state)


@pytest.fixture
async def setup(redis_server: RedisServer) -> AsyncIterator[Setup]:
    url = redis_server.url
    foreign = Celery("someone-elses-app")
    foreign.conf.update(celery_config(url, url, 3600))
    clock = ManualClock()
    listener = Redis.from_url(url, retry=Retry(NoBackoff(), 0))
    redis = Redis.from_url(url)
    hub = StateHub(listener, PREFIX, queue_size=100, clock=clock)
    await hub.start()
    assert await hub.wait_connected(5)
    store = TaskStore(redis, PREFIX, 3600)
    web_celery = Celery("web")
    web_celery.conf.update(celery_config(url, url, 3600))
    broker = TaskBroker(web_celery)
    yield Setup(
        hub,
        Liveness(hub, store, functools.partial(broker.take_over, max_attempts=3), LOST_AFTER),
        clock,
        foreign,
        broker,
    )
    await hub.stop()
    await redis.aclose()
    await listener.aclose()
    for celery in (web_celery, foreign):
        celery.backend.client.close()
        celery.close()


async def until_final(inbox) -> object:  # noqa: ANN001 - an app.hub.Inbox
    while not (event := await asyncio.wait_for(inbox.get(), 10)).final:
        pass
    return event


async def test_a_task_whose_state_keeps_changing_is_alive_without_any_heartbeat(setup: Setup) -> None:
    task_id = str(uuid.uuid4())
    inbox = setup.hub.open(task_id)
    try:
        for step in range(12):  # well past LOST_AFTER in all, one second between writes
            await asyncio.to_thread(setup.write, task_id, PROGRESS_STATE, {"percent": step, "description": "x"})
            assert (await asyncio.wait_for(inbox.get(), 10)).kind == "progress"
            setup.clock.now += 1
            assert await setup.liveness.check() == []
    finally:
        setup.hub.unfollow(task_id, inbox)


async def test_a_running_task_silent_for_lost_after_is_recorded_lost_and_its_streams_hear_it(setup: Setup) -> None:
    task_id = str(uuid.uuid4())
    inbox = setup.hub.open(task_id)
    try:
        await asyncio.to_thread(setup.write, task_id, PROGRESS_STATE, {"percent": 3, "description": "x"})
        assert (await asyncio.wait_for(inbox.get(), 10)).kind == "progress"
        setup.clock.now += LOST_AFTER - 0.5
        assert await setup.liveness.check() == []
        setup.clock.now += 0.5
        assert await setup.liveness.check() == [task_id]
        assert (await until_final(inbox)) == WORKER_LOST_EVENT
    finally:
        setup.hub.unfollow(task_id, inbox)


@pytest.mark.parametrize(
    ("state", "meta"),
    [
        pytest.param(None, None, id="queued"),
        pytest.param("WAITING", {"percent": 40, "description": "Waiting for a worker"}, id="waiting-to-resume"),
        pytest.param("RETRY", {"exc_type": "OSError", "exc_message": ["down"], "exc_module": "builtins"}, id="retry"),
        pytest.param("SUCCESS", {"texts": []}, id="finished"),
    ],
)
async def test_a_task_no_worker_is_executing_is_never_lost(setup: Setup, state: str | None, meta: dict | None) -> None:
    task_id = str(uuid.uuid4())
    if state is not None:
        await asyncio.to_thread(setup.write, task_id, state, meta)
    inbox = setup.hub.open(task_id)
    try:
        setup.clock.now += LOST_AFTER * 10
        assert await setup.liveness.check() == []
    finally:
        setup.hub.unfollow(task_id, inbox)


async def test_a_heartbeat_keeps_a_silent_task_alive(setup: Setup) -> None:
    task_id = str(uuid.uuid4())
    await asyncio.to_thread(setup.write, task_id, "STARTED", {"pid": 1, "hostname": "h"})
    await asyncio.to_thread(setup.foreign.backend.client.set, heartbeat_key(task_id), b"1", ex=60)
    inbox = setup.hub.open(task_id)
    try:
        setup.clock.now += LOST_AFTER * 10
        assert await setup.liveness.check() == []
    finally:
        setup.hub.unfollow(task_id, inbox)


async def test_following_a_task_starts_the_silence_afresh(setup: Setup) -> None:
    """A process that just began to follow a task has not heard it yet: it waits lost_after."""
    task_id = str(uuid.uuid4())
    await asyncio.to_thread(setup.write, task_id, PROGRESS_STATE, {"percent": 3, "description": "x"})
    await setup.hub.sync()  # its message handed out (to nobody), not heard after the follow
    setup.clock.now += LOST_AFTER * 10  # long before anyone here followed it
    inbox = setup.hub.open(task_id)
    try:
        assert await setup.liveness.check() == []
        setup.clock.now += LOST_AFTER
        assert await setup.liveness.check() == [task_id]
    finally:
        setup.hub.unfollow(task_id, inbox)


async def test_a_queued_task_a_worker_starts_as_the_check_reads_it_is_not_lost(setup: Setup) -> None:
    """Silent while queued, then started by a worker between the check's judging the silence
    and its read: the state read is the sign of life the silence had not counted yet."""
    task_id = str(uuid.uuid4())
    inbox = setup.hub.open(task_id)
    try:
        setup.clock.now += LOST_AFTER * 10  # queued all that while
        # Written and published, not yet handed out by the hub: the check reads it from Redis.
        await asyncio.to_thread(setup.write, task_id, "STARTED", {"pid": 1, "hostname": "h"})
        assert await setup.liveness.check() == []
        assert (await asyncio.wait_for(inbox.get(), 10)).kind == "progress"
    finally:
        setup.hub.unfollow(task_id, inbox)


async def test_a_foreign_task_that_ended_after_it_was_judged_lost_keeps_its_end(setup: Setup) -> None:
    """The check read it running; by the time of the takeover it had failed on its own: its
    error stays, not overwritten by a lost worker."""
    task_id = str(uuid.uuid4())
    error = {"exc_type": "FileNotFoundError", "exc_message": ["gone"], "exc_module": "builtins"}
    await asyncio.to_thread(setup.write, task_id, "FAILURE", error)
    assert await setup.broker.take_over(task_id, max_attempts=3) is False
    backend = setup.foreign.backend
    stored = json.loads(await asyncio.to_thread(backend.client.get, backend.get_key_for_task(task_id)))
    assert (stored["status"], stored["result"]) == ("FAILURE", error)

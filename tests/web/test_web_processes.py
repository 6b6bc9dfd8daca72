"""Two web processes on one port (WEB_CONCURRENCY=2: uvicorn --workers 2), as the Procfile runs them.

Each process has its own subscription, streams, liveness check and /metrics; what a request
needs is in Redis, so whichever process a connection lands on serves it. States are written
the way a worker writes them (Celery's backend API), so no worker is needed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from httpx_sse import aconnect_sse
from redis import Redis

from bench.measure import connections_by_process, established_to, process_tree, socket_inodes
from bench.writer import celery_app, issue_tasks, store_progress
from live_progress.contract import WORKER_LOST, heartbeat_key
from live_progress.launch.processes import STARTED, Process, start_web
from live_progress.launch.redis_server import RedisServer
from live_progress.web.security.access import COOKIE
from tests.conftest import ARTIFACTS
from tests.support.clients import Event
from tests.support.eventually import eventually

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
STREAMS = 200
# No connection limit and none kept alive: every request or stream on a connection of its own,
# landing on either process.
NEW_CONNECTIONS = httpx.Limits(max_connections=None, max_keepalive_connections=0)


@pytest.fixture(scope="module")
def env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    # A database of its own; no worker listens on it: states are written by the test.
    # uvicorn keeps an idle connection for 60 s (not 5): time to look up which process holds it.
    return {
        **service_env,
        "REDIS_URL": redis_server.database_url(20),
        "API_TOKEN": TOKEN,
        "WORKER_LOST_AFTER": "2",
        "UVICORN_TIMEOUT_KEEP_ALIVE": "60",
    }


@pytest.fixture(scope="module")
def web(env: dict[str, str]) -> Iterator[tuple[Process, str]]:
    process, base_url = start_web(env, ARTIFACTS, name="web-two-processes", processes=2)
    yield process, base_url
    process.stop()


@pytest.fixture
async def client(web: tuple[Process, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web[1], headers=BEARER, timeout=30, limits=NEW_CONNECTIONS) as client:
        yield client


def workers_of(process: Process) -> list[int]:
    """uvicorn's worker processes (its supervisor also starts multiprocessing's resource tracker)."""
    return [
        pid for pid in process_tree(process.popen.pid)[1:] if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def connections_per_process(process: Process, port: int) -> dict[int, int]:
    """The established connections to ``port`` each uvicorn worker holds (none: 0)."""
    held = connections_by_process(process.popen.pid, port)
    return {pid: held.get(pid, 0) for pid in workers_of(process)}


class Streams:
    """Streams read to their end; counts those that have had their first event (their snapshot)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.started = 0
        self.tasks: list[asyncio.Task[list[Event]]] = []
        self.urls: list[str] = []

    def open(self, url: str, count: int) -> None:
        self.tasks += [asyncio.create_task(self._read(url)) for _ in range(count)]
        self.urls += [url] * count

    async def _read(self, url: str) -> list[Event]:
        events = []
        async with aconnect_sse(self.client, "GET", url) as source:
            assert source.response.status_code == 200
            async for sse in source.aiter_sse():
                if sse.data:  # not a lone retry: hint
                    events.append(Event(sse.event, sse.id, json.loads(sse.data), time.monotonic()))
                    self.started += len(events) == 1
        return events

    async def all_started(self) -> None:
        await eventually(lambda: self.started == len(self.tasks), timeout=30, what="every stream's first event")

    async def ends(self, timeout: float = 30) -> list[list[Event]]:
        return await asyncio.wait_for(asyncio.gather(*self.tasks), timeout)


async def on_fresh_connections(
    process: Process, base_url: str, count: int, send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
) -> tuple[list[httpx.Response], collections.Counter[int]]:
    """``send`` on a connection of its own each time, ten at a time, until at least ``count``
    were answered and every worker answered some; and how many each worker answered. The one
    that answered a request is the one holding its connection, kept open (idle) until then.
    The workers share one listening socket and the kernel hands a connection to whichever
    accepts first: a burst may well all land on one of them."""
    port = int(httpx.URL(base_url).port or 0)
    workers = workers_of(process)
    answers: list[httpx.Response] = []
    served: collections.Counter[int] = collections.Counter()
    async with contextlib.AsyncExitStack() as open_clients:
        while len(answers) < count or set(served) != set(workers):
            assert len(answers) < count + 500, f"one process answered every connection: {served}"
            clients = [
                await open_clients.enter_async_context(httpx.AsyncClient(base_url=base_url, timeout=10))
                for _ in range(10)
            ]
            batch = await asyncio.gather(*(send(client) for client in clients))
            inodes = established_to(port)
            held = {pid: socket_inodes(pid) for pid in workers}
            for answer in batch:
                client_port = answer.extensions["network_stream"].get_extra_info("client_addr")[1]
                (pid,) = [pid for pid, sockets in held.items() if inodes.get(client_port) in sockets]
                served[pid] += 1
            answers += batch
    return answers, served


def holding(process: Process, port: int, count: int) -> Callable[[], dict[int, int] | None]:
    """Checks that the workers hold ``count`` connections in all; gives them per worker then."""

    def check() -> dict[int, int] | None:
        held = connections_per_process(process, port)
        return held if sum(held.values()) >= count else None

    return check


async def open_on_every_process(streams: Streams, urls: list[str], process: Process, count: int) -> dict[int, int]:
    """Opens streams, ten at a time round the ``urls``, until there are ``count`` and every worker
    holds some. The workers share one listening socket, and the kernel hands a connection to
    whichever accepts first: a burst of connects may well all land on one of them."""
    port = int(streams.client.base_url.port or 0)
    while True:
        for _ in range(10):
            streams.open(urls[len(streams.tasks) % len(urls)], 1)
        await streams.all_started()
        held = await eventually(holding(process, port, len(streams.tasks)), timeout=30, what="every stream open")
        if len(streams.tasks) >= count and all(held.values()):
            return held
        assert len(streams.tasks) < count + 500, f"one process took every stream: {held}"


def test_the_procfile_starts_two_web_processes(web: tuple[Process, str]) -> None:
    process, _ = web
    assert len(workers_of(process)) == 2
    assert process.log().count(STARTED) == 2


async def test_many_streams_on_both_processes_all_get_the_final_event(
    web: tuple[Process, str], client: httpx.AsyncClient, env: dict[str, str]
) -> None:
    process, base_url = web
    task_ids = issue_tasks(env["REDIS_URL"], 4, 600)
    celery = celery_app(env["REDIS_URL"])
    try:
        for task_id in task_ids:
            store_progress(celery, task_id, 1, 3)
        streams = Streams(client)
        urls = [f"/audio/transcribe/events/{task_id}" for task_id in task_ids]
        await open_on_every_process(streams, urls, process, STREAMS)
        for task_id in task_ids:
            store_progress(celery, task_id, 2, 3)
            celery.backend.mark_as_done(task_id, {"output_type": "text", "title": "done", "value": task_id})
        done = await streams.ends()
    finally:
        celery.close()
    for url, events in zip(streams.urls, done, strict=True):
        task_id = url.rsplit("/", 1)[1]
        assert [event.event for event in events] == ["progress", "progress", "result"], events
        assert events[-1].data == {"root": {"output_type": "text", "title": "done", "value": task_id}}
    # Polling over fresh connections answers the same on both processes.
    polls, served = await on_fresh_connections(
        process, base_url, 100, lambda fresh: fresh.get(f"/audio/transcribe/result/{task_ids[0]}", headers=BEARER)
    )
    assert len(served) == 2, served
    assert {poll.status_code for poll in polls} == {200}
    assert {poll.content for poll in polls} == {polls[0].content}


async def test_each_process_judges_a_silent_task_lost(
    web: tuple[Process, str], client: httpx.AsyncClient, env: dict[str, str]
) -> None:
    """A task whose worker stops writing and beating: streams on both processes end with the loss."""
    process, base_url = web
    [task_id] = issue_tasks(env["REDIS_URL"], 1, 600)
    celery = celery_app(env["REDIS_URL"])
    try:
        store_progress(celery, task_id, 1, 3)
    finally:
        celery.close()
    streams = Streams(client)
    await open_on_every_process(streams, [f"/audio/transcribe/events/{task_id}"], process, 40)
    with Redis.from_url(env["REDIS_URL"]) as redis:
        redis.delete(heartbeat_key(task_id))
    for events in await streams.ends():
        assert events[-1].event == "error"
        assert WORKER_LOST in events[-1].data["root"]["value"]


async def test_a_sign_in_holds_on_every_process(web: tuple[Process, str]) -> None:
    process, base_url = web
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as browser:
        response = await browser.post("/login", data={"token": TOKEN})
        assert response.status_code == 303, response.text
        cookie = response.cookies[COOKIE]

    def with_cookie(fresh: httpx.AsyncClient) -> Awaitable[httpx.Response]:
        return fresh.get("/openapi.json", headers={"Cookie": f"{COOKIE}={cookie}"})

    answers, served = await on_fresh_connections(process, base_url, 40, with_cookie)
    assert len(served) == 2, served
    assert {answer.status_code for answer in answers} == {200}
    async with httpx.AsyncClient(base_url=base_url, cookies={COOKIE: cookie}, timeout=10) as browser:
        assert (await browser.post("/logout")).status_code == 303
    answers, served = await on_fresh_connections(process, base_url, 40, with_cookie)
    assert len(served) == 2, served
    assert {answer.status_code for answer in answers} == {401}


async def test_sigterm_ends_the_streams_of_both_processes(env: dict[str, str]) -> None:
    """Graceful shutdown: uvicorn's supervisor passes SIGTERM on; each worker ends its streams."""
    process, base_url = start_web(env, ARTIFACTS, name="web-two-processes-stop", processes=2)
    try:
        [task_id] = issue_tasks(env["REDIS_URL"], 1, 600)
        async with httpx.AsyncClient(base_url=base_url, headers=BEARER, timeout=30, limits=NEW_CONNECTIONS) as client:
            streams = Streams(client)
            await open_on_every_process(streams, [f"/audio/transcribe/events/{task_id}"], process, 40)
            workers = workers_of(process)
            started = time.monotonic()
            process.popen.send_signal(signal.SIGTERM)
            # Each had its snapshot; each ends cleanly.
            assert [len(events) for events in await streams.ends(20)] == [1] * len(streams.tasks)
            assert await asyncio.to_thread(process.popen.wait, 60) == 0
            # The contract's bound: "the web process closes its streams and exits within 10 s".
            took = time.monotonic() - started
            assert took <= 10, f"the web processes took {took:.1f} s to exit"
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
        log = process.log()
        assert log.count("Finished server process") == 2, log
    finally:
        process.stop()


async def test_a_process_that_dies_is_replaced(env: dict[str, str]) -> None:
    """uvicorn's supervisor starts a new worker in place of one that died (here: SIGKILL)."""
    process, base_url = start_web(env, ARTIFACTS, name="web-two-processes-kill", processes=2)
    try:
        killed, kept = workers_of(process)
        os.kill(killed, signal.SIGKILL)

        def replaced() -> bool:
            workers = workers_of(process)
            return len(workers) == 2 and killed not in workers and process.log().count(STARTED) == 3

        await eventually(replaced, timeout=30, what="a new worker in place of the killed one")
        assert kept in workers_of(process)
        async with httpx.AsyncClient(base_url=base_url, timeout=10, limits=NEW_CONNECTIONS) as client:
            answers = await asyncio.gather(*(client.get("/healthz") for _ in range(40)))
        assert {answer.status_code for answer in answers} == {200}
        assert all(answer.json()["subscribed"] for answer in answers)
    finally:
        process.stop()

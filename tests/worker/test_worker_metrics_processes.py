"""A worker with two pool processes (WORKER_CONCURRENCY=2): its metrics add up the tasks both
ran, in every scrape; a worker started again on the same folder does not count the last one's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from celery import Celery
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from bench.writer import celery_app
from live_progress.launch.processes import start_worker, wait_for
from live_progress.launch.redis_server import RedisServer, free_port
from tests.conftest import ARTIFACTS, ROOT

pytestmark = pytest.mark.integration

SITE = ROOT / "tests" / "support" / "plugin_site"
SUCCEEDED = ("live_progress_worker_tasks_total", (("state", "SUCCESS"), ("task", "countdown.run")))


@pytest.fixture
def env(redis_server: RedisServer, service_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    # The countdown plugin alone (tests/support/plugin_site): a task of one second, no model.
    return {
        **service_env,
        "REDIS_URL": redis_server.database_url(26),
        "PYTHONPATH": str(SITE),
        "PLUGINS": "countdown",
        "WORKER_METRICS_PORT": str(free_port()),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "worker-metrics"),
    }


@pytest.fixture
def celery(env: dict[str, str]) -> Iterator[Celery]:
    app = celery_app(env["REDIS_URL"])
    yield app
    app.close()


def run_tasks(celery: Celery, count: int) -> None:
    """``count`` countdown tasks of one step each, sent at once, to their end."""
    results = [
        celery.send_task("countdown.run", kwargs={"inputs": {}, "parameters": {"steps": 1}}) for _ in range(count)
    ]
    for result in results:
        result.get(timeout=60)


def scrape(env: dict[str, str]) -> float:
    text = httpx.get(f"http://127.0.0.1:{env['WORKER_METRICS_PORT']}/metrics", timeout=5).text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return samples.get(SUCCEEDED, 0.0)


def succeeded_by_process(folder: Path) -> dict[int, float]:
    """The tasks each pool process counted, read from its own file."""
    counts = {}
    for path in folder.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)]):
            for sample in metric.samples:
                if (sample.name, tuple(sorted(sample.labels.items()))) == SUCCEEDED:
                    counts[int(path.stem.rsplit("_", 1)[1])] = sample.value
    return counts


async def test_every_scrape_counts_the_tasks_of_both_pool_processes(env: dict[str, str], celery: Celery) -> None:
    folder = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    worker = start_worker(env, ARTIFACTS, name="worker-metrics-processes", concurrency=2)
    try:
        # Two tasks of a second each at once: each pool process takes one.
        await asyncio.to_thread(run_tasks, celery, 6)
        # A pool process counts a task just after it stored the result.
        wait_for(lambda: sum(succeeded_by_process(folder).values()) == 6, 10, "every task counted")
        by_process = succeeded_by_process(folder)
        assert len(by_process) == 2 and all(by_process.values()), by_process
        assert [scrape(env) for _ in range(10)] == [6] * 10
    finally:
        worker.stop()

    # The same folder for the next worker: what the first counted is not counted again.
    worker = start_worker(env, ARTIFACTS, name="worker-metrics-processes-again", concurrency=2)
    try:
        assert scrape(env) == 0
        await asyncio.to_thread(run_tasks, celery, 1)
        wait_for(lambda: scrape(env) == 1, 10, "the task counted")
        assert sum(succeeded_by_process(folder).values()) == 1
    finally:
        worker.stop()

"""A worker's own metrics, scraped after a real transcription; its JSON log lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from live_progress.launch.processes import Process, start_web, start_worker, wait_for
from live_progress.launch.redis_server import RedisServer, free_port
from tests.conftest import ARTIFACTS
from tests.support.clients import read_events, submit

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def metrics_env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    return {
        **service_env,
        "REDIS_URL": redis_server.database_url(11),
        "WORKER_METRICS_PORT": str(free_port()),
        "LOG_FORMAT": "json",
    }


@pytest.fixture(scope="module")
def stack(metrics_env: dict[str, str]) -> Iterator[tuple[Process, str]]:
    worker = start_worker(metrics_env, ARTIFACTS, name="worker-metrics")
    web, base_url = start_web(metrics_env, ARTIFACTS, name="web-metrics")
    yield worker, base_url
    web.stop()
    worker.stop()


async def test_worker_metrics_count_a_real_transcription(
    stack: tuple[Process, str], metrics_env: dict[str, str], audio_root: Path
) -> None:
    worker, base_url = stack
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30, read=90)) as client:
        task = await submit(client, audio_root / "batch")
        assert (await read_events(client, task["events_url"]))[-1].event == "result"
    url = f"http://127.0.0.1:{metrics_env['WORKER_METRICS_PORT']}/metrics"

    def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = httpx.get(url, timeout=5).text
        return {
            (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "pid"))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    # The pool process writes its figures as the task ends; the main process serves them.
    wait_for(lambda: ("live_progress_worker_audio_seconds_total", ()) in samples(), 10, "the worker's metrics")
    figures = samples()
    assert figures[("live_progress_worker_tasks_total", (("state", "SUCCESS"), ("task", "audio.transcribe")))] >= 1
    assert figures[("live_progress_worker_audio_seconds_total", ())] == pytest.approx(16.6, abs=0.5)
    assert figures[("live_progress_worker_real_time_factor_count", ())] >= 1
    assert 0 < figures[("live_progress_worker_real_time_factor_sum", ())] < 5

    lines = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
    about_task = [line for line in lines if line.get("task_id") == task["task_id"]]
    assert any("succeeded" in line["message"] for line in about_task), lines[-5:]

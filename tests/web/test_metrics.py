"""/metrics scraped after real jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.clients import read_events, submit
from tests.support.eventually import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(service: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service, timeout=httpx.Timeout(30, read=90)) as client:
        yield client


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_a_real_job_from_submit_to_end(client: httpx.AsyncClient, audio_root: Path) -> None:
    before = await scrape(client)
    task = await submit(client, audio_root / "batch")
    events = await read_events(client, task["events_url"])
    assert events[-1].event == "result"
    await client.get(task["result_url"])
    cancelled = await submit(client, audio_root / "many")
    await client.delete(f"/audio/transcribe/{cancelled['task_id']}")
    await read_events(client, cancelled["events_url"])
    after = await scrape(client)

    def growth(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    def grew(name: str, by: float = 1, **labels: str) -> bool:
        return growth(name, **labels) >= by

    task_label = {"task": "audio.transcribe"}
    # What only this test causes is counted exactly (a counter that counts twice fails here);
    # what the session's other jobs may add to meanwhile, at least.
    assert growth("live_progress_tasks_submitted_total", **task_label) == 2
    assert grew("live_progress_tasks_finished_total", state="success", **task_label)
    assert grew("live_progress_tasks_finished_total", state="cancelled", **task_label)
    assert grew("live_progress_submit_to_first_progress_seconds_count", **task_label)
    assert grew("live_progress_submit_to_end_seconds_count", 2, **task_label)
    # Every progress event the stream sent was handed to it, but its first (the state read when
    # it opened); the hub may have handed it more (an inbox keeps only the latest states).
    progress_sent = sum(1 for event in events if event.event == "progress")
    assert progress_sent >= 3, events  # a count that can fall short
    assert grew("live_progress_stream_events_total", progress_sent - 1, kind="progress")
    assert grew("live_progress_stream_events_total", kind="result")
    assert grew("live_progress_polls_total")
    assert growth("live_progress_streams_opened_total") == 2

    # A stream's slot is given back just after its client saw the end: wait for it.
    async def streams_closed() -> bool:
        return value(await scrape(client), "live_progress_open_streams") == 0

    await eventually(streams_closed, what="every stream's slot given back")
    assert ("live_progress_redis_reconnects_total", ()) in after

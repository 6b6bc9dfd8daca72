"""/metrics counts error answers by whose fault they are: a client's request (4xx), Redis not
answering (an outage), this process at one of its limits (busy). In-process, against a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from live_progress.launch.redis_server import RedisServer
from live_progress.web.settings import Settings
from tests.support.eventually import eventually
from tests.support.inprocess import serve, web_settings

Counts = dict[tuple[str, str], float]


async def error_counts(client: httpx.AsyncClient) -> Counts:
    scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    return {
        (sample.labels["status"], sample.labels["kind"]): sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
        if sample.name == "live_progress_error_responses_total"
    }


def grown(before: Counts, after: Counts) -> Counts:
    return {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}


async def test_client_errors_are_counted_as_the_clients(client: httpx.AsyncClient) -> None:
    before = await error_counts(client)
    # The outage and internal series are there from the start, at zero.
    assert before[("503", "outage")] == 0 and before[("500", "internal")] == 0

    await client.get("/audio/transcribe/result/not-a-task")  # 400
    await client.get(f"/audio/transcribe/events/{uuid.uuid4()}", headers={"Last-Event-ID": "abc/notanid"})  # 400
    await client.get(f"/audio/transcribe/result/{uuid.uuid4()}")  # 404: never issued
    await client.post("/audio/transcribe", content=b"{", headers={"Content-Type": "application/json"})  # 400
    await client.post("/audio/transcribe", json={})  # 422
    await client.post("/audio/transcribe", content=b"{}", headers={"Content-Type": "text/plain"})  # 415
    await client.get("/healthz", headers={"Host": "evil.example"})  # 400, from the Host guard

    assert grown(before, await error_counts(client)) == {
        ("400", "client"): 4,
        ("404", "client"): 1,
        ("422", "client"): 1,
        ("415", "client"): 1,
    }


async def test_redis_not_answering_is_counted_as_an_outage(audio_root: Path) -> None:
    with RedisServer() as redis:
        async with serve(web_settings(redis.url, audio_root)) as client:
            before = await error_counts(client)
            redis.stop()

            response = await client.get(f"/audio/transcribe/result/{uuid.uuid4()}")

            assert response.status_code == 503
            assert response.json()["error"].startswith("Redis is unreachable")
            assert grown(before, await error_counts(client)) == {("503", "outage"): 1}


async def test_healthz_unavailable_is_counted_as_an_outage(audio_root: Path) -> None:
    with RedisServer() as redis:
        async with serve(web_settings(redis.url, audio_root)) as client:
            before = await error_counts(client)
            redis.stop()

            response = await client.get("/healthz")

            assert response.status_code == 503
            assert grown(before, await error_counts(client)) == {("503", "outage"): 1}


async def test_a_process_at_its_stream_limit_is_counted_as_busy(settings: Settings, audio_root: Path) -> None:
    async with serve(settings.model_copy(update={"max_streams": 1})) as client:
        submitted = await client.post("/audio/transcribe", json={"inputs": {"input_dir": {"path": str(audio_root)}}})
        task = submitted.json()
        # No worker takes it: its stream stays open, holding the one slot.
        holding = asyncio.create_task(client.get(task["events_url"]))
        try:

            async def slot_taken() -> bool:
                return (await client.get("/healthz")).json()["streams"] == 1

            await eventually(slot_taken, what="the first stream holding the slot")
            before = await error_counts(client)

            refused = await client.get(task["events_url"])

            assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
            assert grown(before, await error_counts(client)) == {("503", "busy"): 1}
        finally:
            holding.cancel()
            await asyncio.gather(holding, return_exceptions=True)
        await client.delete(f"/audio/transcribe/{task['task_id']}")

"""The whole path against real processes: redis-server, a Celery worker, uvicorn, the real model."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.support.clients import Event, percents, read_events, submit

pytestmark = pytest.mark.integration

SEED_POLL = ROOT / "tests" / "support" / "seed_poll.mjs"


@pytest.fixture
async def client(service: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service, timeout=httpx.Timeout(30, read=90)) as client:
        yield client


def assert_never_goes_back(events: list[Event]) -> None:
    seen = percents(events)
    assert seen == sorted(seen), f"percent went back: {seen}"
    assert all(0 <= p < 100 for p in seen), seen


async def test_stream_shows_progress_then_the_transcripts(client: httpx.AsyncClient, audio_root: Path) -> None:
    task = await submit(client, audio_root / "batch")
    events = await read_events(client, task["events_url"])

    kinds = [e.event for e in events[:-1] if e.event != "segment"]
    assert set(kinds) <= {"status", "progress"}
    assert kinds == sorted(kinds, key=lambda kind: kind == "progress"), "status after progress"
    assert len(set(percents(events))) >= 2, events
    assert_never_goes_back(events)
    assert any(e.data["root"].get("description") == "Transcribing weather.mp3 (2 of 3)" for e in events)
    assert len({e.id for e in events}) == len(events), "an event was sent twice"

    final = events[-1]
    assert final.event == "result"
    root = final.data["root"]
    assert root["output_type"] == "batchtext"
    titles = [t["title"] for t in root["texts"]]
    assert titles == [
        str(audio_root / "batch" / "train.WAV"),
        str(audio_root / "batch" / "weather.mp3"),
        str(audio_root / "batch" / "sub" / "cooking.flac"),
    ]
    values = " ".join(t["value"] for t in root["texts"]).lower()
    for word in ("london", "weather", "onions"):
        assert word in values
    assert all(t["subtitle"] is None and t["output_type"] == "text" for t in root["texts"])
    transcripts = Path(root["transcripts_dir"])
    assert transcripts == audio_root / "batch" / "transcripts"
    assert "onions" in (transcripts / "sub" / "cooking.txt").read_text().lower()


async def test_polling_answers_the_contract_shapes_until_the_result(
    client: httpx.AsyncClient, audio_root: Path
) -> None:
    task = await submit(client, audio_root / "long")
    bodies = []
    async with asyncio.timeout(90):
        while True:
            response = await client.get(task["result_url"])
            assert response.status_code == 200
            body = response.json()
            bodies.append(body)
            if body["root"].get("title") not in {"progress", "status"}:
                break
            await asyncio.sleep(0.05)

    for body in bodies[:-1]:
        root = body["root"]
        if root["title"] == "status":
            assert root == {"output_type": "text", "title": "status", "value": "Task status: PENDING", "subtitle": None}
        else:
            assert isinstance(root["percent"], int) and isinstance(root["description"], str)
    progress = [b["root"]["percent"] for b in bodies if b["root"].get("title") == "progress"]
    assert progress == sorted(progress)
    final = bodies[-1]["root"]
    assert final["output_type"] == "batchtext"
    assert [t["title"] for t in final["texts"]] == [str(audio_root / "long" / "story.mp3")]
    assert "village" in final["texts"][0]["value"].lower()


async def test_progress_advances_within_one_long_file(client: httpx.AsyncClient, audio_root: Path) -> None:
    task = await submit(client, audio_root / "long")
    events = await read_events(client, task["events_url"])
    within = [p for p in percents(events) if p > 0]
    assert len(set(within)) >= 2, f"progress did not advance per segment: {percents(events)}"
    assert_never_goes_back(events)
    assert events[-1].event == "result"


async def test_seed_poll_logic_reaches_the_result(client: httpx.AsyncClient, audio_root: Path) -> None:
    """The design note's pollForResult rules: poll on progress or a PENDING status, stop on anything else."""
    task = await submit(client, audio_root / "batch")
    shown = []
    async with asyncio.timeout(90):
        while True:
            data = (await client.get(task["result_url"])).json()
            if data and data["root"].get("title") == "progress":
                shown.append(f"In Progress: {data['root']['percent']}% - {data['root']['description']}")
                await asyncio.sleep(0.1)
            elif data and data["root"].get("title") == "status" and "PENDING" in data["root"]["value"]:
                await asyncio.sleep(0.25)
            else:
                break
    assert data["root"]["output_type"] == "batchtext"
    assert len(data["root"]["texts"]) == 3


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the seed's JavaScript")
async def test_seed_javascript_poller_runs_unchanged(service: str, client: httpx.AsyncClient, audio_root: Path) -> None:
    task = await submit(client, audio_root / "batch")
    proc = await asyncio.create_subprocess_exec(
        "node", str(SEED_POLL), service + task["result_url"], stdout=subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(proc.communicate(), 120)
    outputs = json.loads(stdout)["outputs"]
    final = json.loads(outputs[-1])
    assert final["root"]["output_type"] == "batchtext", outputs
    assert not any("Polling Error" in o for o in outputs)


async def test_last_event_id_resumes_without_repeats(client: httpx.AsyncClient, audio_root: Path) -> None:
    task = await submit(client, audio_root / "many")
    first = await read_events(client, task["events_url"], until="progress")
    seen = first[-1]
    assert seen.event == "progress"

    resumed = await read_events(client, task["events_url"], last_event_id=seen.id)
    assert seen.id not in [e.id for e in resumed]
    assert resumed[-1].event == "result"
    assert_never_goes_back(first + resumed)

    # A client that has the final event is told to stop: 204, which ends EventSource's retries.
    response = await client.get(task["events_url"], headers={"Last-Event-ID": resumed[-1].id})
    assert response.status_code == 204

    # One that reconnects with an older id after the end gets the final event at once, after
    # the live results it lacks (it left before the first).
    late = await read_events(client, task["events_url"], last_event_id=seen.id)
    assert [e.event for e in late if e.event != "segment"] == ["result"]
    assert [e.data for e in late] == [e.data for e in resumed if e.event in ("segment", "result")]
    assert late[-1].id == resumed[-1].id


async def test_event_ids_are_the_same_on_every_connection(client: httpx.AsyncClient, audio_root: Path) -> None:
    task = await submit(client, audio_root / "batch")
    one, two = await asyncio.gather(read_events(client, task["events_url"]), read_events(client, task["events_url"]))
    assert one[-1].id == two[-1].id
    assert one[-1].data == two[-1].data
    by_id = {e.id: e.data for e in one}
    for event in two:
        if event.id in by_id:
            assert by_id[event.id] == event.data


async def test_cancel_ends_the_stream_with_cancelled(client: httpx.AsyncClient, audio_root: Path) -> None:
    task = await submit(client, audio_root / "many")
    task_id = task["task_id"]

    async def cancel_when_transcribing() -> None:
        async with asyncio.timeout(60):
            while True:
                root = (await client.get(task["result_url"])).json()["root"]
                if root.get("title") == "progress" and root["description"].startswith("Transcribing"):
                    break
                await asyncio.sleep(0.05)
        response = await client.delete(f"/audio/transcribe/{task_id}")
        assert response.status_code == 202, response.text

    events, _ = await asyncio.gather(read_events(client, task["events_url"]), cancel_when_transcribing())
    assert events[-1].event == "error"
    assert events[-1].data == {
        "root": {"output_type": "text", "title": "error", "value": "Task cancelled", "subtitle": None}
    }
    assert (await client.get(task["result_url"])).json() == events[-1].data
    again = await client.delete(f"/audio/transcribe/{task_id}")
    assert again.status_code == 409
    assert "error" in again.json()


async def test_cancel_of_a_queued_task_is_heard_at_once(client: httpx.AsyncClient, audio_root: Path) -> None:
    running = await submit(client, audio_root / "many")
    queued = await submit(client, audio_root / "batch")  # one worker process: this one waits
    assert (await client.get(queued["result_url"])).json()["root"]["title"] == "status"

    response = await client.delete(f"/audio/transcribe/{queued['task_id']}")
    assert response.status_code == 202
    events = await asyncio.wait_for(read_events(client, queued["events_url"]), 10)
    assert events[-1].data["root"]["value"] == "Task cancelled"

    await client.delete(f"/audio/transcribe/{running['task_id']}")
    final = await read_events(client, running["events_url"])
    assert final[-1].event == "error"


async def test_a_corrupt_file_does_not_sink_the_batch(client: httpx.AsyncClient, audio_root: Path) -> None:
    task = await submit(client, audio_root / "with_corrupt")
    events = await read_events(client, task["events_url"])
    texts = {Path(t["title"]).name: t for t in events[-1].data["root"]["texts"]}
    assert texts["broken.mp3"]["subtitle"] == "error"
    assert "broken.mp3" in texts["broken.mp3"]["value"]
    assert texts["good.ogg"]["subtitle"] is None
    assert "library" in texts["good.ogg"]["value"].lower()


async def test_stream_sends_keep_alive_comments_and_is_not_buffered(
    client: httpx.AsyncClient, audio_root: Path
) -> None:
    task = await submit(client, audio_root / "many")
    lines = []
    async with client.stream("GET", task["events_url"]) as response:
        assert response.headers["cache-control"].startswith("no-")
        assert response.headers["x-accel-buffering"] == "no"
        async with asyncio.timeout(30):
            async for line in response.aiter_lines():
                lines.append(line)
                if line.startswith(":"):
                    break
    assert lines[0] == "retry: 2000"
    await client.delete(f"/audio/transcribe/{task['task_id']}")

"""Live results: each segment reaches every stream of the task once, in order, before the result;
late joiners and reconnects included. Real worker, real model, real uvicorn."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.clients import Event, read_events, submit

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(service: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service, timeout=httpx.Timeout(30, read=90)) as client:
        yield client


def transcripts_from_segments(events: list[Event]) -> dict[str, str]:
    texts: dict[str, list[str]] = defaultdict(list)
    for event in events:
        if event.event == "segment":
            texts[event.data["root"]["file"]].append(event.data["root"]["text"])
    return {file: " ".join(t for t in parts if t) for file, parts in texts.items()}


def assert_segments_in_order_once(events: list[Event]) -> None:
    segments = [e for e in events if e.event == "segment"]
    assert segments, "no segment event"
    assert len({e.id for e in segments}) == len(segments), "a segment was sent twice"
    by_file: dict[str, list[float]] = defaultdict(list)
    for event in segments:
        root = event.data["root"]
        assert root["title"] == "segment" and root["start"] <= root["end"]
        by_file[root["file"]].append(root["end"])
    for ends in by_file.values():
        assert ends == sorted(ends), "segments out of order"
    last_segment = max(i for i, e in enumerate(events) if e.event == "segment")
    assert events[-1].event == "result" and last_segment < len(events) - 1


async def test_every_segment_reaches_the_stream_in_order_and_adds_up_to_the_transcripts(
    client: httpx.AsyncClient, audio_root: Path
) -> None:
    task = await submit(client, audio_root / "batch")
    events = await read_events(client, task["events_url"])
    assert_segments_in_order_once(events)
    final = {t["title"]: t["value"] for t in events[-1].data["root"]["texts"]}
    assert transcripts_from_segments(events) == final


async def test_a_late_joiner_and_a_reconnect_get_each_segment_once(client: httpx.AsyncClient, audio_root: Path) -> None:
    task = await submit(client, audio_root / "long")
    whole = asyncio.create_task(read_events(client, task["events_url"]))
    # A client that leaves after its first segment, then comes back with Last-Event-ID.
    first = await read_events(client, task["events_url"], until="segment")
    rest = await read_events(client, task["events_url"], last_event_id=first[-1].id)
    everything = await whole
    # And one that joins once the task has finished: it is sent the segments so far first.
    late = await read_events(client, task["events_url"])

    def segments(events: list[Event]) -> list[str]:
        return [json.dumps(e.data["root"], sort_keys=True) for e in events if e.event == "segment"]

    assert_segments_in_order_once(everything)
    assert segments(first) + segments(rest) == segments(everything)
    assert segments(late) == segments(everything)
    assert [e.event for e in late if e.event != "segment"] == ["result"]
    # Having the final event, a reconnect is told to stop.
    done = await client.get(task["events_url"], headers={"Last-Event-ID": everything[-1].id})
    assert done.status_code == 204


async def test_the_multi_task_stream_carries_segments_and_resumes_them(
    client: httpx.AsyncClient, audio_root: Path
) -> None:
    one, two = await submit(client, audio_root / "long"), await submit(client, audio_root / "batch")
    url = f"/audio/transcribe/events?task_id={one['task_id']}&task_id={two['task_id']}"
    first = await read_events(client, url, until="segment")
    rest = await read_events(client, url, last_event_id=first[-1].id)
    seen = [
        (e.data["task_id"], json.dumps(e.data["root"], sort_keys=True)) for e in first + rest if e.event == "segment"
    ]
    assert len(seen) == len(set(seen)), "a segment was sent twice"
    whole = {task["task_id"]: await read_events(client, task["events_url"]) for task in (one, two)}
    for task_id, events in whole.items():
        expected = [json.dumps(e.data["root"], sort_keys=True) for e in events if e.event == "segment"]
        assert [root for t, root in seen if t == task_id] == expected

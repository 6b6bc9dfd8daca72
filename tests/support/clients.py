"""Small clients for the tests: submit a folder, read an SSE stream, poll."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse


@dataclass(frozen=True)
class Event:
    event: str
    id: str
    data: dict[str, Any]
    at: float


async def submit(client: httpx.AsyncClient, folder: Path) -> dict[str, str]:
    response = await client.post(
        "/audio/transcribe", json={"inputs": {"input_dir": {"path": str(folder)}}, "parameters": {}}
    )
    assert response.status_code == 202, response.text
    return response.json()


async def read_events(
    client: httpx.AsyncClient,
    url: str,
    last_event_id: str | None = None,
    until: str | None = None,
    first: asyncio.Event | None = None,
) -> list[Event]:
    """Every event of the stream until the server ends it (or until an event of kind ``until``);
    ``first``, when given, is set once the first event (the task's state then) has come."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events = []
    async with aconnect_sse(client, "GET", url, headers=headers) as source:
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        async for sse in source.aiter_sse():
            if not sse.data:
                continue  # a block with no data (a lone retry: hint) is no event, as in browsers
            events.append(Event(sse.event, sse.id, json.loads(sse.data), time.monotonic()))
            if first is not None:
                first.set()
            if sse.event == until:
                break
    return events


def percents(events: list[Event]) -> list[int]:
    return [e.data["root"]["percent"] for e in events if e.event == "progress"]

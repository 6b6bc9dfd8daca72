"""The lean SSE response (live_progress/web/engine/sse.py) as Starlette and sse-starlette see it:
a Response built by Starlette's own constructor, sending sse-starlette's headers and ping.
(Streaming itself is tested on a real uvicorn: tests/web/engine/test_sse.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse
from starlette.types import Message

from live_progress.web.engine.hub import Wake
from live_progress.web.engine.sse import EventStreamResponse, Streams, sse_headers


async def _no_frames() -> AsyncGenerator[bytes, None]:
    yield b""


def _response(streams: Streams, closed: list[str]) -> EventStreamResponse:
    return streams.response(_no_frames(), Wake(), lambda: closed.append("closed"))


def test_the_headers_are_those_sse_starlette_sends() -> None:
    assert sse_headers() == EventSourceResponse(_no_frames()).raw_headers


def test_it_is_read_as_any_starlette_response_is() -> None:
    streams = Streams(limit=2, headers={"Cache-Control": "no-cache"})
    response = _response(streams, [])
    assert isinstance(response, StreamingResponse)
    assert response.status_code == 200 and response.background is None
    assert response.media_type == "text/event-stream"
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers.raw == streams.raw_headers


def test_head_sends_the_headers_gives_back_the_slot_and_runs_the_background() -> None:
    streams = Streams(limit=1)
    assert streams.try_acquire()
    calls: list[str] = []
    response = _response(streams, calls)
    response.background = BackgroundTask(calls.append, "background")
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        raise AssertionError("HEAD reads nothing")

    asyncio.run(response({"type": "http", "method": "HEAD"}, receive, send))
    assert sent == [
        {"type": "http.response.start", "status": 200, "headers": streams.raw_headers},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]
    assert calls == ["closed", "background"]
    assert streams.open == 0

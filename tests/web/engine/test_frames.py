"""The bytes of SSE frames (live_progress/web/engine/frames.py), exactly, per case."""

from __future__ import annotations

import pytest
from sse_starlette import EventSourceResponse, ServerSentEvent

from live_progress.web.engine.frames import comment_frame, event_frame, opening


@pytest.mark.parametrize(
    ("kind", "data", "event_id", "frame"),
    [
        ("progress", b'{"root":{}}', "3344019094", b'id: 3344019094\nevent: progress\ndata: {"root":{}}\n\n'),
        ("segment", b"{}", "33440190948fc3a4/1-0", b"id: 33440190948fc3a4/1-0\nevent: segment\ndata: {}\n\n"),
        ("error", b'{"reconnect":true}', None, b'event: error\ndata: {"reconnect":true}\n\n'),
    ],
)
def test_an_event_frame(kind: str, data: bytes, event_id: str | None, frame: bytes) -> None:
    assert event_frame(kind, data, event_id) == frame


@pytest.mark.parametrize(
    ("first", "sent"),
    [
        (b"event: progress\ndata: {}\n\n", b"retry: 2000\nevent: progress\ndata: {}\n\n"),
        (b"", b"retry: 2000\n\n"),  # nothing to send yet: a blank line ends the field
    ],
)
def test_a_stream_opens_with_its_retry(first: bytes, sent: bytes) -> None:
    assert opening(2000, first) == sent


def test_a_comment_is_written_as_sse_starlette_writes_its_ping() -> None:
    text = "ping - 2026-12-04 15:49:25.123456+00:00"
    assert comment_frame(text) == b": " + text.encode() + b"\r\n\r\n"
    assert comment_frame(text) == ServerSentEvent(comment=text, sep=EventSourceResponse.DEFAULT_SEPARATOR).encode()

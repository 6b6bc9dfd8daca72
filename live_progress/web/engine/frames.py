"""The bytes of SSE frames: every frame a stream sends is built here.

An event's data is one line (the engine's is JSON, which has no raw newline), so each event
is a single ``data:`` line. Events end in ``\\n\\n``; a comment ends in ``\\r\\n\\r\\n``, as
sse-starlette writes its keep-alive, the ping clients have always had. Frames are built for
every event to every stream: plain ``%`` formatting, no checks on the way.
"""

from __future__ import annotations


def event_frame(kind: str, data: bytes, event_id: str | None = None) -> bytes:
    """One event; without an id, a client's Last-Event-ID stays what it was."""
    if event_id is None:
        return b"event: %s\ndata: %s\n\n" % (kind.encode(), data)
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (event_id.encode(), kind.encode(), data)


def opening(retry_ms: int, first: bytes) -> bytes:
    """What a stream sends first: how long a client waits before it reconnects, then the first
    frames; with none yet, a blank line ends the retry field on its own."""
    return b"retry: %d\n" % retry_ms + (first or b"\n")


def comment_frame(text: str) -> bytes:
    """A comment, which clients ignore: the keep-alive."""
    return b": %s\r\n\r\n" % text.encode()

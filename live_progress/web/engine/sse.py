"""A lean SSE response: two tasks per stream, and one timer per process for all of them.

sse-starlette's ``EventSourceResponse`` runs an anyio task group of four tasks per stream
(the frames, a ping loop, a disconnect listener, a shutdown listener) and wraps every send in
a cancel scope for its timeout: at 10,000 streams (``scripts/bench fanout``) the web held
47 KB per stream with it, 21 KB with this. Here a stream has its request's own task, which sends the
frames, and one task that waits for the client to go (uvicorn's ``send`` does not fail once
the client has gone: only ``receive`` says so). What is timed is done by one ``Streams.run``
loop per process, a few times a second: it pings the streams that sent nothing for
``ping_seconds``, cuts off a stream whose send has been stuck for ``send_timeout`` (a client
that stopped reading), and ends every stream when the server stops.

What stays sse-starlette's: the ping is its keep-alive comment, byte for byte, and the headers
are those it sets. When the server stops is not its ``AppStatus`` (not part of its API, and
never set under ``uvicorn --factory``, which installs its exit handler before the import that
would patch it): ``Streams.stop``, which the process's exit signals call
(live_progress/web/process.py), and ``Streams.end`` at the end of the app's lifespan.

A frame source is an async generator of bytes that waits on the stream's ``wake`` event and
yields ``b""`` when woken with nothing to send: the moment for a ping, or to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import UTC, datetime
from typing import cast

from sse_starlette import EventSourceResponse
from starlette.datastructures import MutableHeaders
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from live_progress.web.engine.frames import comment_frame
from live_progress.web.engine.hub import Wake

logger = logging.getLogger(__name__)

Frames = AsyncGenerator[bytes, None]


def ping_frame() -> bytes:
    """sse-starlette's default keep-alive: a comment with the time."""
    return comment_frame(f"ping - {datetime.now(UTC)}")


class _Stream:
    """What the process's timer knows about one open stream."""

    __slots__ = ("task", "wake", "sending_since", "last_sent", "ping_due", "ended", "gone", "cut_off")

    def __init__(self, task: asyncio.Task, wake: Wake, now: float) -> None:
        self.task = task
        self.wake = wake
        self.sending_since = 0.0  # when the send under way began; 0 when none is
        self.last_sent = now
        self.ping_due = False
        self.ended = False  # the client went, or the server is stopping
        self.gone = False  # the client went
        self.cut_off = False  # the timer cancelled a send that took too long

    def end(self) -> None:
        self.ended = True
        self.wake.set()


class Streams:
    """The process's open SSE streams: counted against a limit, pinged, watched for stalls."""

    def __init__(
        self,
        limit: int,
        ping_seconds: float = EventSourceResponse.DEFAULT_PING_INTERVAL,
        send_timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit has value {limit!r}; it must be at least 1")
        self.limit = limit
        self.open = 0  # slots taken: streams being opened or served
        self.ping_seconds = ping_seconds
        self.send_timeout = send_timeout
        # Fine enough for both, and for SIGTERM to end the streams within half a second.
        self.tick = max(0.05, min(0.5, ping_seconds / 4, send_timeout / 4))
        self.cut_offs = 0
        self.stopping = False  # the server or the lifespan is stopping (see stop)
        self.raw_headers = sse_headers(headers)  # every response's, unless it is given its own
        self.ping = ping_frame()  # the latest, shared by the streams a round pings
        self._clock = clock
        self._streams: set[_Stream] = set()

    def try_acquire(self) -> bool:
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open -= 1

    async def run(self) -> None:
        """The timer, for as long as the process serves streams."""
        while True:
            await asyncio.sleep(self.tick)
            try:
                self.check()
            except Exception:  # one bad round must not end the pings and the cut-offs for good
                logger.exception("The streams' timer failed a round")

    def check(self) -> None:
        """One round: end every stream if the server is stopping, else ping the idle ones and
        cut off those whose send has been stuck for longer than ``send_timeout``."""
        if self.stopping:
            for stream in self._streams:
                stream.end()
            return
        now = self._clock()
        stuck_since, idle_since = now - self.send_timeout, now - self.ping_seconds
        pinged = False
        for stream in self._streams:
            since = stream.sending_since
            if since:
                if since < stuck_since and not stream.cut_off:
                    stream.cut_off = True
                    stream.task.cancel()
            elif stream.last_sent <= idle_since and not stream.ping_due:
                if not pinged:
                    self.ping, pinged = ping_frame(), True
                stream.ping_due = True
                stream.wake.set()

    def stop(self) -> None:
        """End every stream at the timer's next round (the server is stopping). Safe to call
        from a signal handler: it only sets a flag."""
        self.stopping = True

    async def end(self, timeout: float) -> None:
        """End every stream now and wait, up to ``timeout`` seconds, for their responses to
        finish: what owns the Redis clients they read closes them only after that."""
        self.stop()
        self.check()
        if tasks := {stream.task for stream in self._streams}:
            await asyncio.wait(tasks, timeout=timeout)

    def response(
        self,
        frames: Frames,
        wake: Wake,
        on_close: Callable[[], None],
        headers: Mapping[str, str] | None = None,
    ) -> EventStreamResponse:
        """The response for a stream that holds one of this process's slots (``try_acquire``)."""
        return EventStreamResponse(frames, wake, self, on_close, headers)

    async def serve(self, frames: Frames, wake: Wake, receive: Receive, send: Send) -> bool:
        """Sends ``frames`` until they end, the client goes or the server stops; True when the
        response is to be ended (the client is there and was not cut off)."""
        task = asyncio.current_task()
        assert task is not None
        clock = self._clock
        stream = _Stream(task, wake, clock())
        self._streams.add(stream)
        listener = asyncio.create_task(_until_disconnect(receive, stream))
        try:
            while not stream.ended:
                frame = await anext(frames, None)
                if frame is None or stream.ended:
                    break
                if not frame:
                    if not stream.ping_due:
                        continue
                    frame = self.ping
                stream.ping_due = False
                stream.sending_since = stream.last_sent = clock()
                await send({"type": "http.response.body", "body": frame, "more_body": True})
                stream.sending_since = 0.0
            return not stream.gone
        except asyncio.CancelledError:
            # The timer's cancel, and nobody else's: the client stopped reading.
            if stream.cut_off and task.uncancel() == 0:
                self.cut_offs += 1
                logger.warning("Cut off a stream whose client took over %g s to accept an event", self.send_timeout)
                return False
            raise
        finally:
            self._streams.discard(stream)
            listener.cancel()
            await frames.aclose()

    async def complete(self, send: Send) -> None:
        """Ends a response; a client that does not take it within ``send_timeout`` has its
        connection closed by the server."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.send_timeout):
                await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _until_disconnect(receive: Receive, stream: _Stream) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    stream.gone = True
    stream.end()


def sse_headers(headers: Mapping[str, str] | None = None) -> list[tuple[bytes, bytes]]:
    """The raw headers of an SSE response: those sse-starlette's EventSourceResponse sends
    (its cache policy unless ``headers`` has one), with ``headers`` first."""
    merged = MutableHeaders(headers=dict(headers or {}))
    merged.setdefault("Cache-Control", "no-store")
    merged["Connection"] = "keep-alive"
    merged["X-Accel-Buffering"] = "no"
    merged.setdefault("Content-Type", f"text/event-stream; charset={Response.charset}")
    return merged.raw


class EventStreamResponse(StreamingResponse):
    """An SSE response on a process's ``Streams``; it gives back its slot, and calls
    ``on_close``, however it ends.

    Built by Starlette's own constructor, so it is all a ``Response`` is read for (status,
    headers, background); only the sending is its own."""

    media_type = "text/event-stream"

    def __init__(
        self,
        frames: Frames,
        wake: Wake,
        streams: Streams,
        on_close: Callable[[], None],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(frames)
        # The usual headers: the process's list, encoded once and shared (a list of its own
        # would be 88 bytes more per stream), so headers are given here, never set on it.
        self.raw_headers = streams.raw_headers if headers is None else sse_headers(headers)
        self._wake = wake
        self._streams = streams
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            # A copy: middleware may add to the list it is sent.
            await send({"type": "http.response.start", "status": self.status_code, "headers": [*self.raw_headers]})
            # HEAD gets the headers only, as from sse-starlette: an endless body would never end.
            frames = cast(Frames, self.body_iterator)
            if scope["method"] == "HEAD" or await self._streams.serve(frames, self._wake, receive, send):
                await self._streams.complete(send)
        finally:
            self._streams.release()
            self._on_close()
        if self.background is not None:
            await self.background()

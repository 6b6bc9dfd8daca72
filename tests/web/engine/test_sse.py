"""The lean SSE response (live_progress/web/engine/sse.py) on a real uvicorn in this process, read over a socket.

Frames come from a feed the test fills; the response's timer runs with short intervals.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from live_progress.launch.redis_server import free_port
from live_progress.web.engine.hub import Wake
from live_progress.web.engine.sse import Streams, ping_frame, sse_headers
from tests.support.eventually import eventually

PING = re.compile(rb": ping - \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00:00\r\n\r\n")


@dataclass
class Feed:
    """One stream's frames, put by the test; waits on the stream's wake event as the app's do."""

    wake: Wake = field(default_factory=Wake)
    queued: list[bytes] = field(default_factory=list)
    finished: bool = False
    closed: bool = False  # the generator was closed (its cleanup ran)
    on_close_calls: int = 0

    def put(self, frame: bytes) -> None:
        self.queued.append(frame)
        self.wake.set()

    def finish(self) -> None:
        self.finished = True
        self.wake.set()

    async def frames(self) -> AsyncIterator[bytes]:
        try:
            while True:
                self.wake.clear()
                out, self.queued = b"".join(self.queued), []
                yield out
                if self.finished:
                    return
                await self.wake.wait()
        finally:
            self.closed = True

    def on_close(self) -> None:
        self.on_close_calls += 1


@dataclass
class Server:
    streams: Streams
    port: int
    feeds: list[Feed]

    async def open(self, method: str = "GET") -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(f"{method} /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        return reader, writer, head

    async def feed(self, count: int = 1) -> Feed:
        await eventually(lambda: len(self.feeds) >= count, 5, what="the stream to open")
        return self.feeds[count - 1]


@contextlib.asynccontextmanager
async def serving(
    ping_seconds: float = 60, send_timeout: float = 30, clock: Callable[[], float] = time.monotonic
) -> AsyncIterator[Server]:
    streams = Streams(10, ping_seconds, send_timeout, headers={"Cache-Control": "no-cache"}, clock=clock)
    feeds: list[Feed] = []

    async def stream(request: Request) -> Response:
        assert streams.try_acquire()
        feed = Feed()
        feeds.append(feed)
        return streams.response(feed.frames(), feed.wake, feed.on_close)

    app = Starlette(routes=[Route("/stream", stream, methods=["GET", "HEAD"])])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", timeout_graceful_shutdown=2
        )
    )
    serve = asyncio.create_task(server.serve())
    timer = asyncio.create_task(streams.run())
    try:
        await eventually(lambda: server.started, 10, what="uvicorn to start")
        yield Server(streams, port, feeds)
    finally:
        timer.cancel()
        server.should_exit = True
        await asyncio.wait_for(serve, 10)


async def read_until(reader: asyncio.StreamReader, pattern: re.Pattern[bytes] | bytes, timeout: float = 5) -> bytes:
    """What the stream sends until ``pattern`` is in it."""
    received = b""
    deadline = time.monotonic() + timeout
    found = pattern.search if isinstance(pattern, re.Pattern) else lambda data: pattern in data
    while not found(received):
        chunk = await asyncio.wait_for(reader.read(65536), max(0.01, deadline - time.monotonic()))
        assert chunk, f"the stream ended before {pattern!r}: {received[-300:]!r}"
        received += chunk
    return received


async def test_headers_frames_and_a_clean_end() -> None:
    async with serving() as server:
        reader, writer, head = await server.open()
        feed = await server.feed()
        lines = head.decode().lower().split("\r\n")
        assert lines[0] == "http/1.1 200 ok"
        assert "content-type: text/event-stream; charset=utf-8" in lines
        assert "cache-control: no-cache" in lines
        assert "x-accel-buffering: no" in lines
        assert "transfer-encoding: chunked" in lines

        feed.put(b"event: progress\ndata: {}\n\n")
        feed.put(b'event: progress\ndata: {"a":1}\n\n')
        await read_until(reader, b'data: {"a":1}\n\n')
        feed.put(b"event: result\ndata: {}\n\n")
        feed.finish()
        rest = await read_until(reader, b"0\r\n\r\n")  # the last chunk: the response is complete
        assert b"event: result\ndata: {}\n\n" in rest

        await eventually(lambda: server.streams.open == 0, 5, what="the slot given back")
        assert feed.on_close_calls == 1 and feed.closed
        writer.close()


async def test_an_idle_stream_gets_sse_starlettes_ping_and_a_busy_one_none() -> None:
    assert PING.fullmatch(ping_frame())
    # The streams' clock is the test's: a stream is idle by it, however busy the machine is.
    now = 0.0
    async with serving(ping_seconds=0.3, clock=lambda: now) as server:
        rounds = 0
        check = server.streams.check

        def counted_check() -> None:  # the timer's rounds, counted
            nonlocal rounds
            rounds += 1
            check()

        server.streams.check = counted_check  # type: ignore[method-assign]

        async def a_round() -> None:
            """Until the timer has looked at the streams at least once since now."""
            since = rounds
            await eventually(lambda: rounds >= since + 2, what="a round of the streams' timer")

        idle_reader, idle_writer, _ = await server.open()
        await server.feed(1)
        for _ in range(2):  # idle for a ping interval: a ping, each time
            now += 0.3
            await read_until(idle_reader, PING)

        # Events more often than the ping interval: no ping between them, though the timer
        # looked after each (and pings the idle stream meanwhile).
        busy_reader, busy_writer, _ = await server.open()
        busy = await server.feed(2)
        sent = b""
        for n in range(12):
            now += 0.1
            busy.put(b"data: %d\n\n" % n)
            sent += await read_until(busy_reader, b"data: %d\n\n" % n)
            await a_round()
        assert b": ping" not in sent
        await read_until(idle_reader, PING)
        idle_writer.close()
        busy_writer.close()


async def test_a_client_that_goes_is_noticed_without_waiting_for_a_ping() -> None:
    async with serving(ping_seconds=60) as server:
        _, writer, _ = await server.open()
        feed = await server.feed()
        assert server.streams.open == 1
        writer.close()
        await eventually(lambda: server.streams.open == 0, 5, what="the slot given back")
        assert feed.on_close_calls == 1 and feed.closed


async def test_a_client_that_stops_reading_is_cut_off_after_the_send_timeout() -> None:
    async with serving(send_timeout=0.5) as server:
        reader, writer, _ = await server.open()  # and never read again, until it is cut off
        other_reader, other_writer, _ = await server.open()
        stalled, other = await server.feed(1), await server.feed(2)
        frame = b"data: " + b"x" * 65536 + b"\n\n"

        async def fill() -> None:
            while not stalled.closed:
                stalled.put(frame)
                await asyncio.sleep(0.002)

        filling = asyncio.create_task(fill())
        # Meanwhile the other stream goes on as usual.
        other.put(b"data: other\n\n")
        await read_until(other_reader, b"data: other\n\n")
        await eventually(lambda: stalled.closed, 20, what="the stalled stream cut off")
        await filling
        assert stalled.on_close_calls == 1
        assert server.streams.cut_offs == 1 and server.streams.open == 1

        # The server closed the connection: the client reads what was buffered, then the end.
        async def drained() -> bool:
            return not await asyncio.wait_for(reader.read(1 << 20), 5)

        await eventually(drained, 10, interval=0, what="the stalled connection closed")
        other.put(b"data: still here\n\n")
        await read_until(other_reader, b"data: still here\n\n")
        writer.close()
        other_writer.close()


async def test_the_server_stopping_ends_every_stream_cleanly() -> None:
    async with serving() as server:
        readers = [await server.open() for _ in range(3)]
        await server.feed(3)
        server.streams.stop()  # what the process's exit signals call (live_progress/web/process.py)
        for reader, writer, _ in readers:
            await read_until(reader, b"0\r\n\r\n", timeout=3)
            writer.close()
        await eventually(lambda: server.streams.open == 0, 5, what="every slot given back")
        assert all(feed.on_close_calls == 1 for feed in server.feeds)


async def test_head_gets_the_headers_and_no_stream() -> None:
    async with serving() as server:
        reader, writer, head = await server.open("HEAD")
        assert head.lower().startswith(b"http/1.1 200 ok") and b"text/event-stream" in head
        await eventually(lambda: server.streams.open == 0, 5, what="the slot given back")
        feed = await server.feed()
        assert feed.on_close_calls == 1 and not feed.closed  # its frames were never started
        writer.close()


def test_slots_are_counted_against_the_limit() -> None:
    streams = Streams(limit=2)
    assert streams.try_acquire() and streams.try_acquire()
    assert not streams.try_acquire()
    streams.release()
    assert streams.try_acquire()
    with pytest.raises(ValueError, match="at least 1"):
        Streams(limit=0)


def test_the_headers_are_sse_starlettes_with_a_cache_policy_of_our_own() -> None:
    assert sse_headers() == [
        (b"cache-control", b"no-store"),
        (b"connection", b"keep-alive"),
        (b"x-accel-buffering", b"no"),
        (b"content-type", b"text/event-stream; charset=utf-8"),
    ]
    assert sse_headers({"Cache-Control": "no-cache"})[0] == (b"cache-control", b"no-cache")

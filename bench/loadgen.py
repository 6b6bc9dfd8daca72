"""A lean load generator: thousands of SSE watchers, or keep-alive GETs, from one process.

Raw ``asyncio.Protocol`` connections on uvloop, no HTTP library: a watcher only finds the
end of the first frame (the snapshot) and then each ``#ts=<time_ns>`` marker the writer puts
in a description, so the client costs far less per event than the server it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.measure import own_cpu_seconds

# The writer puts this, then time.time_ns() in 19 digits, in every description it writes.
MARKER = b"#ts="
_DIGITS = 19


def marked(description: str) -> str:
    return f"{description} {MARKER.decode()}{time.time_ns():0{_DIGITS}d}"


@dataclass
class WatchStats:
    """What every watcher of one run saw, gathered in one place (one event loop)."""

    latencies_ns: array = field(default_factory=lambda: array("q"))  # write -> client read
    first_event_ns: array = field(default_factory=lambda: array("q"))  # connect -> snapshot
    events: int = 0
    last_event_ns: int = 0  # time.time_ns() of the latest event read
    refused: int = 0  # not a 200 (e.g. a 503 past MAX_STREAMS), or the connection failed
    ended_early: int = 0  # the server closed a stream the client had not finished with
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class Watcher(asyncio.Protocol):
    """One SSE stream: records the time to its first frame and the latency of each marker."""

    __slots__ = ("_stats", "_request", "_on_ready", "_started", "_head", "_tail", "transport", "events", "open")

    def __init__(self, stats: WatchStats, request: bytes, on_ready: Callable[[], None]) -> None:
        self._stats = stats
        self._request = request
        self._on_ready = on_ready  # called once: the snapshot arrived, or the stream never opened
        self._started = time.perf_counter_ns()
        self._head: bytes | None = b""  # None once the first frame has arrived
        self._tail = b""
        self.transport: asyncio.Transport | None = None
        self.events = 0
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self._request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self._head is not None:
            data = self._first_frame(data)
            if not data:
                return
        now = time.time_ns()
        buf = self._tail + data
        stats = self._stats
        i = buf.find(MARKER)
        # A marker cut before its last byte is found again with the next segment.
        self._tail = buf[-(len(MARKER) - 1) :]
        while i >= 0:
            start = i + len(MARKER)
            if start + _DIGITS > len(buf):
                self._tail = buf[i:]  # the marker's digits are cut by the segment boundary
                break
            stats.latencies_ns.append(now - int(buf[start : start + _DIGITS]))
            stats.events += 1
            stats.last_event_ns = now
            self.events += 1
            i = buf.find(MARKER, start + _DIGITS)

    def _first_frame(self, data: bytes) -> bytes:
        """Buffers until the snapshot frame has arrived; returns what follows it."""
        head = self._head + data  # type: ignore[operator]
        body_at = head.find(b"\r\n\r\n")
        if body_at < 0:
            self._head = head
            return b""
        if not head.startswith(b"HTTP/1.1 200"):
            self.failed(head[: head.find(b"\r\n")].decode(errors="replace"))
            self.transport.close()  # type: ignore[union-attr]
            return b""
        end = head.find(b"\n\n", body_at + 4)
        if end < 0:
            self._head = head
            return b""
        self._stats.first_event_ns.append(time.perf_counter_ns() - self._started)
        self._head = None
        self.open = True
        self._on_ready()
        return head[end + 2 :]

    def failed(self, what: str) -> None:
        """The stream never opened."""
        if self._head is not None:
            self._head = None
            self._stats.refused += 1
            self._stats.error(what)
            self._on_ready()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.open:
            self._stats.ended_early += 1
        self.open = False
        self.failed(f"closed before the first event ({exc or 'EOF'})")

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()


def sse_request(path: str, port: int, last_event_id: str | None = None) -> bytes:
    resume = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n{resume}\r\n".encode()


async def open_watchers(
    port: int,
    paths: list[str],
    stats: WatchStats,
    window: int,
    timeout: float,
    watcher_class: type[Watcher] = Watcher,
) -> list[Watcher]:
    """Connects one watcher per path, at most ``window`` of them still waiting for their snapshot.

    The window keeps the server's accept queue (somaxconn) from overflowing, which would turn
    into a 1 s SYN retransmit rather than a figure about the server.
    """
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(window)
    deadline = loop.time() + timeout
    watchers: list[Watcher] = []
    pending = [0]

    def ready() -> None:
        slots.release()
        pending[0] -= 1

    async def connect(watcher: Watcher) -> None:
        try:
            await loop.create_connection(lambda: watcher, "127.0.0.1", port)
        except OSError as exc:
            watcher.failed(f"{type(exc).__name__} {exc.errno or ''}".strip())

    connecting = set()
    for path in paths:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            await asyncio.wait_for(slots.acquire(), remaining)
        except TimeoutError:
            break
        watcher = watcher_class(stats, sse_request(path, port), ready)
        watchers.append(watcher)
        pending[0] += 1
        task = asyncio.ensure_future(connect(watcher))
        connecting.add(task)
        task.add_done_callback(connecting.discard)
    while pending[0] and loop.time() < deadline:
        await asyncio.sleep(0.01)
    for watcher in watchers:
        watcher.failed("no first event before the deadline")
    return watchers


def close_all(watchers: list[Watcher]) -> None:
    for watcher in watchers:
        watcher.close()


@dataclass
class RequestStats:
    latencies_ns: array = field(default_factory=lambda: array("q"))
    failures: int = 0
    seconds: float = 0.0  # recorded
    client_cpu: float = 0.0  # this process's CPU time while recording
    recording: bool = False
    stopping: bool = False


class _KeepAlive(asyncio.Protocol):
    """Sends one GET, waits for the whole response (by Content-Length), sends the next."""

    def __init__(self, request: bytes, stats: RequestStats) -> None:
        self._request = request
        self._stats = stats
        self._buf = b""
        self._sent = 0
        self.transport: asyncio.Transport | None = None
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._send()

    def _send(self) -> None:
        self._sent = time.perf_counter_ns()
        self.transport.write(self._request)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        self._buf += data
        head_end = self._buf.find(b"\r\n\r\n")
        if head_end < 0:
            return
        length = _content_length(self._buf[:head_end])
        if len(self._buf) < head_end + 4 + length:
            return
        ok = self._buf.startswith(b"HTTP/1.1 200")
        self._buf = self._buf[head_end + 4 + length :]
        if self._stats.recording:
            if ok:
                self._stats.latencies_ns.append(time.perf_counter_ns() - self._sent)
            else:
                self._stats.failures += 1
        if self._stats.stopping:
            self.transport.close()  # type: ignore[union-attr]
        else:
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


def _content_length(head: bytes) -> int:
    head = head.lower() + b"\r\n"
    at = head.find(b"content-length:")
    return int(head[at + 15 : head.find(b"\r\n", at)]) if at >= 0 else 0


async def hammer(port: int, path: str, connections: int, warmup: float, seconds: float) -> RequestStats:
    """GETs ``path`` over ``connections`` keep-alive connections, one request in flight on each;
    records ``seconds`` after ``warmup``."""
    loop = asyncio.get_running_loop()
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    stats = RequestStats()
    clients = []
    for _ in range(connections):
        client = _KeepAlive(request, stats)
        await loop.create_connection(lambda c=client: c, "127.0.0.1", port)
        clients.append(client)
    await asyncio.sleep(warmup)
    stats.recording = True
    started, cpu = time.perf_counter(), own_cpu_seconds()
    await asyncio.sleep(seconds)
    stats.recording = False
    stats.seconds, stats.client_cpu = time.perf_counter() - started, own_cpu_seconds() - cpu
    stats.stopping = True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(c.done for c in clients)), 10)
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    return stats

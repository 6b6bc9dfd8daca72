"""One client's SSE stream of a task: the current state at once, then every change."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from app.events import TaskEvent
from app.hub import Inbox, StateHub


def split_position(event_id: str | None) -> tuple[str | None, str | None]:
    """The state and the segment a single-task event id says the client has (see ``Cursor``)."""
    state, _, segment = (event_id or "").partition("/")
    return state or None, segment or None


def entry_order(entry_id: str) -> tuple[int, int]:
    """A Redis Stream entry id (``<ms>-<seq>``) as something that sorts in log order."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class Cursor:
    """Where one client is in one task: the last state it has (and whether that is the end),
    and the last of the task's segments (live results) it has.

    Its inbox was opened before ``snapshot`` and ``backlog`` (the segments the client lacks)
    were read, so nothing written in between is missed; ``caught_up`` drops the states the
    snapshot already covers, a state is never sent twice in a row (nor at all when the client
    already has it), and a segment never twice, nor out of order.

    Event ids: the state's content id (the same on every connection and replica) and, once
    the task has published segments, ``/`` and the last segment's entry id, so a reconnect
    with ``Last-Event-ID`` resumes both.
    """

    __slots__ = ("inbox", "snapshot", "backlog", "last_id", "segment_id", "done")

    def __init__(
        self,
        inbox: Inbox,
        snapshot: TaskEvent,
        client_has: str | None,
        client_segment: str | None = None,
        backlog: Sequence[TaskEvent] = (),
    ) -> None:
        self.inbox = inbox
        self.snapshot = snapshot
        self.backlog = list(backlog)
        self.last_id = client_has
        self.segment_id = client_segment
        self.done = snapshot.final and snapshot.id == client_has

    def take(self, event: TaskEvent) -> TaskEvent | None:
        """``event`` if the client should get it next, else None."""
        if self.done:
            return None
        if event.kind == "segment":
            assert event.id is not None
            if self.segment_id is not None and entry_order(event.id) <= entry_order(self.segment_id):
                return None
            self.segment_id = event.id
            return event
        if event.id is not None and event.id == self.last_id:
            return None
        self.last_id = event.id
        self.done = event.final
        return event

    def first(self) -> Iterator[TaskEvent]:
        """What the client gets first: the segments it lacks, then the current state if it lacks
        it; each taken as it is yielded, so a frame made then carries the position after it."""
        backlog, self.backlog = self.backlog, []
        for event in (*backlog, self.snapshot):
            if self.take(event) is not None:
                yield event

    def position(self) -> str:
        return f"{self.last_id or ''}/{self.segment_id}" if self.segment_id else self.last_id or ""

    def frame(self, event: TaskEvent) -> bytes:
        """The SSE frame of ``event``, just taken, with the client's position as its id."""
        if self.segment_id is None or event.id is None:
            return event.frame  # no segments: the state's own frame, shared by every stream
        return b"id: %s\nevent: %s\ndata: %s\n\n" % (self.position().encode(), event.kind.encode(), event.data)

    def caught_up(self) -> None:
        """Call once the hub's barrier (``sync``) has passed, after the snapshot was sent."""
        self.inbox.discard_through(self.snapshot.id)


async def task_frames(hub: StateHub, cursor: Cursor, retry_ms: int) -> AsyncIterator[bytes]:
    """SSE frames for one task until its final event."""
    first = b"".join(cursor.frame(event) for event in cursor.first())
    yield b"retry: %d\n" % retry_ms + (first or b"\n")
    if cursor.done:
        return
    await hub.sync()
    cursor.caught_up()
    while True:
        event = cursor.take(await cursor.inbox.get())
        if event is not None:
            yield cursor.frame(event)
            if cursor.done:
                return


class StreamSlots:
    """Counts a process's open streams against its limit."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit has value {limit!r}; it must be at least 1")
        self.limit = limit
        self.open = 0

    def try_acquire(self) -> bool:
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open -= 1


class CountedEventSourceResponse(EventSourceResponse):
    """An SSE response that gives back its slot, and closes its inbox, however it ends."""

    def __init__(self, *args: Any, slots: StreamSlots, on_close: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = slots
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
            await self._end(send)
        finally:
            self._slots.release()
            self._on_close()

    @staticmethod
    async def _end(send: Send) -> None:
        """End the response if sse-starlette left it open (it does when the server shuts
        down), so the client sees a clean end and uvicorn does not log each stream as an
        error. After a normal end the server refuses this message, which is fine; a client
        that stopped reading gets one second, then uvicorn closes its connection."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

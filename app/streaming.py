"""One client's SSE stream of a task: the current state at once, then every change."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from app.events import TaskEvent
from app.hub import Inbox, StateHub


class Cursor:
    """Where one client is in one task's states: the last it has, and whether that is the end.

    Its inbox was opened before ``snapshot`` was read, so no state written in between is
    missed; ``caught_up`` drops the messages the snapshot already covers, and a state is
    never sent twice in a row (nor at all when the client already has it).
    """

    __slots__ = ("inbox", "snapshot", "last_id", "done")

    def __init__(self, inbox: Inbox, snapshot: TaskEvent, client_has: str | None) -> None:
        self.inbox = inbox
        self.snapshot = snapshot
        self.last_id = client_has
        self.done = snapshot.final and snapshot.id == client_has

    def take(self, event: TaskEvent) -> TaskEvent | None:
        """``event`` if the client should get it next, else None."""
        if self.done or (event.id is not None and event.id == self.last_id):
            return None
        self.last_id = event.id
        self.done = event.final
        return event

    def caught_up(self) -> None:
        """Call once the hub's barrier (``sync``) has passed, after the snapshot was sent."""
        self.inbox.discard_through(self.snapshot.id)


async def task_frames(
    hub: StateHub, inbox: Inbox, snapshot: TaskEvent, last_event_id: str | None, retry_ms: int
) -> AsyncIterator[bytes]:
    """SSE frames for one task until its final event."""
    cursor = Cursor(inbox, snapshot, last_event_id)
    first = cursor.take(snapshot)
    yield b"retry: %d\n" % retry_ms + (first.frame if first else b"\n")
    if cursor.done:
        return
    await hub.sync()
    cursor.caught_up()
    while True:
        event = cursor.take(await inbox.get())
        if event is not None:
            yield event.frame
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

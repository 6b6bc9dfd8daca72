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


async def task_frames(
    hub: StateHub, inbox: Inbox, snapshot: TaskEvent, last_event_id: str | None, retry_ms: int
) -> AsyncIterator[bytes]:
    """SSE frames for one task until its final event.

    ``inbox`` was opened before ``snapshot`` was read, so no state written in between is
    missed; messages the snapshot already covers are dropped, and a state is never sent
    twice in a row (nor at all when the client's Last-Event-ID names it).
    """
    retry = b"retry: %d\n" % retry_ms
    yield retry + (b"\n" if snapshot.id == last_event_id else snapshot.frame)
    if snapshot.final:
        return
    await hub.sync()
    inbox.discard_through(snapshot.id)
    last_id = snapshot.id
    while True:
        event = await inbox.get()
        if event.id is not None and event.id == last_id:
            continue
        yield event.frame
        if event.final:
            return
        last_id = event.id


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

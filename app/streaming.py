"""One client's SSE stream of a task: the current state at once, then every change."""

from __future__ import annotations

from collections.abc import AsyncIterator

from app.errors import ServiceUnavailable
from app.events import stream_lost_event
from app.hub import StateHub
from app.store import TaskStore


async def task_frames(
    hub: StateHub, store: TaskStore, task_id: str, last_event_id: str | None, retry_ms: int
) -> AsyncIterator[bytes]:
    """SSE frames for ``task_id`` until its final event.

    The watch starts before the snapshot is read, so no state written in between is
    missed; messages already covered by the snapshot are then dropped, and a state is
    never sent twice in a row (nor at all when the client's Last-Event-ID names it).
    """
    retry = b"retry: %d\n" % retry_ms
    try:
        async with hub.watch(task_id) as inbox:
            snapshot = await store.read_event(task_id)
            if snapshot.id == last_event_id:
                yield retry + b"\n"
            else:
                yield retry + snapshot.frame
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
    except ServiceUnavailable as exc:
        yield stream_lost_event(str(exc)).frame

"""One client's SSE stream of a task: the current state at once, then every change."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Iterator, Sequence

from live_progress.web.engine.events import TaskEvent
from live_progress.web.engine.frames import event_frame, opening
from live_progress.web.engine.hub import Inbox, Wake

# A state's content id (live_progress/web/engine/events.py), and a Redis Stream entry id: ASCII
# digits only (Python's int() would take "١", "+1", " 1" and "1_0", Redis none of them).
_STATE_ID = re.compile(r"[0-9a-f]{16}")
_ENTRY_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")
_ENTRY_PART_MAX = 2**64 - 1  # each half of an entry id is an unsigned 64-bit number in Redis

POSITION_EXPECTED = (
    "it must be an id this stream sent: the state's 16 lowercase hex digits, then, once the "
    "task has live results, '/' and the last segment's entry id <ms>-<seq> (either part may be "
    "missing, not both)"
)


def parse_entry_id(value: str) -> str:
    """``value`` as a Redis Stream entry id ``<ms>-<seq>`` Redis can read, in its canonical form
    (no leading zeros); ValueError if it is not one."""
    match = _ENTRY_ID.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not an entry id <ms>-<seq>")
    ms, seq = int(match[1]), int(match[2])
    if ms > _ENTRY_PART_MAX or seq > _ENTRY_PART_MAX:
        raise ValueError(f"{value!r} is past the largest entry id Redis has")
    return f"{ms}-{seq}"


def split_position(event_id: str | None) -> tuple[str | None, str | None]:
    """The state and the segment a single-task event id says the client has (see ``Cursor``):
    None for no id (no header, or an empty one), ValueError for one this service never sends
    (``POSITION_EXPECTED``), which must go no further: the segment goes to Redis, both come
    back in the stream's ids."""
    if not event_id:
        return None, None
    state, slash, segment = event_id.partition("/")
    if (state and not _STATE_ID.fullmatch(state)) or (slash and not segment) or not (state or segment):
        raise ValueError(POSITION_EXPECTED)
    try:
        return state or None, parse_entry_id(segment) if segment else None
    except ValueError:
        raise ValueError(POSITION_EXPECTED) from None


def entry_order(entry_id: str) -> tuple[int, int]:
    """A Redis Stream entry id (``<ms>-<seq>``) as something that sorts in log order."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class Cursor:
    """Where one client is in one task: the last state it has (and whether that is the end),
    and the last of the task's segments (live results) it has.

    Its inbox was opened before ``snapshot`` and ``backlog`` (the segments the client lacks)
    were read, so nothing written in between is missed. The snapshot is current as of a
    barrier on the subscription (``StateHub.sync``, which live_progress/web/engine/cache.py's read passes before it
    returns; a cached state is newer than anything the inbox gets), so every state message up to
    it is in the inbox already: ``caught_up`` drops those. A state is never sent twice in a row
    (nor at all when the client already has it), and a segment never twice, nor out of order.

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
        self.backlog: Sequence[TaskEvent] = tuple(backlog)
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
        backlog, self.backlog = self.backlog, ()
        for event in (*backlog, self.snapshot):
            if self.take(event) is not None:
                yield event

    def position(self) -> str:
        return f"{self.last_id or ''}/{self.segment_id}" if self.segment_id else self.last_id or ""

    def frame(self, event: TaskEvent) -> bytes:
        """The SSE frame of ``event``, just taken, with the client's position as its id."""
        if self.segment_id is None or event.id is None:
            return event.frame  # no segments: the state's own frame, shared by every stream
        return event_frame(event.kind, event.data, self.position())

    def caught_up(self) -> None:
        """Drop the queued states the snapshot covers (call once it was sent)."""
        self.inbox.discard_through(self.snapshot.id)


async def task_frames(cursor: Cursor, ready: Wake, retry_ms: int) -> AsyncGenerator[bytes, None]:
    """SSE frames for one task until its final event.

    The cursor's inbox sets ``ready`` when it gets an event; the stream's response sets it too
    when it wants a word (a ping is due, the client went), and then gets ``b""`` if nothing
    new came (live_progress/web/engine/sse.py).
    """
    first = b"".join(cursor.frame(event) for event in cursor.first())
    yield opening(retry_ms, first)
    if cursor.done:
        return
    cursor.caught_up()
    while True:
        # Cleared before the inbox is read, so an event put while a frame is being sent
        # wakes the next round instead of waiting for the one after it.
        ready.clear()
        out = []
        while (message := cursor.inbox.pop()) is not None:
            event = cursor.take(message)
            if event is not None:
                out.append(cursor.frame(event))
                if cursor.done:
                    yield b"".join(out)
                    return
        yield b"".join(out)
        await ready.wait()

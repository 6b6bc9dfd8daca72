"""Many tasks over one SSE stream: the frames, and event ids that say where a client is in each.

A browser opens at most six connections to a host over HTTP/1.1; a page that follows each
job on a stream of its own stalls at the seventh. This stream carries any number of tasks
(up to ``MAX_TASKS_PER_STREAM``), each event naming its task.

Event ids. Each one is the client's position in every task of the set once it has that
event: for each task it has had an event of, 6 bytes of the task id (its first 12 hex
digits, random in a uuid4) and the 8 bytes of that event's content id (the single-task
stream's id, a hash of the state), sorted, then base64url without padding, after ``1.``.
Derived from content alone, an id means the same on every replica and after restarts, and
a client may bring it to a stream of another set of tasks: the positions of tasks in both
carry over, tasks new to it start from their current state. An id that cannot be read
gives no position (the current states are sent again: progress is state, not a log).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping

from app.events import TaskEvent
from app.hub import StateHub
from app.streaming import Cursor

_VERSION = "1."
_KEY_BYTES = 6
_EVENT_ID_BYTES = 8
_ENTRY_BYTES = _KEY_BYTES + _EVENT_ID_BYTES


def _key(task_id: str) -> bytes:
    return uuid.UUID(task_id).bytes[:_KEY_BYTES]


def encode_positions(positions: Mapping[str, str]) -> str:
    """The event id that records ``positions`` (task id -> the content id of its last event)."""
    entries = sorted(_key(task_id) + bytes.fromhex(event_id) for task_id, event_id in positions.items())
    return _VERSION + base64.urlsafe_b64encode(b"".join(entries)).rstrip(b"=").decode()


def decode_positions(raw: str | None, task_ids: Iterable[str]) -> dict[str, str]:
    """Where a client is in each of ``task_ids``, from an id ``encode_positions`` made.

    Tasks the id does not name, and any two of ``task_ids`` that share a key, get no
    position; so does everything when the id is unreadable.
    """
    if not raw or not raw.startswith(_VERSION):
        return {}
    body = raw[len(_VERSION) :]
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return {}
    if len(packed) % _ENTRY_BYTES:
        return {}
    has = {
        packed[at : at + _KEY_BYTES]: packed[at + _KEY_BYTES : at + _ENTRY_BYTES].hex()
        for at in range(0, len(packed), _ENTRY_BYTES)
    }
    by_key: dict[bytes, list[str]] = {}
    for task_id in task_ids:
        by_key.setdefault(_key(task_id), []).append(task_id)
    return {ids[0]: has[key] for key, ids in by_key.items() if len(ids) == 1 and key in has}


class _Frames:
    """Encodes events of the set, each with its task id and the positions after it."""

    def __init__(self, cursors: Mapping[str, Cursor]) -> None:
        self._positions = {task_id: c.last_id for task_id, c in cursors.items() if c.last_id is not None}

    def frame(self, task_id: str, event: TaskEvent) -> bytes:
        assert event.id is not None
        self._positions[task_id] = event.id
        # event.data is the polling body, {"root": ...}: the task id goes in front of root.
        return b'id: %s\nevent: %s\ndata: {"task_id":"%s",%s\n\n' % (
            encode_positions(self._positions).encode(),
            event.kind.encode(),
            task_id.encode(),
            event.data[1:],
        )


async def task_set_frames(
    hub: StateHub, cursors: Mapping[str, Cursor], ready: asyncio.Event, retry_ms: int
) -> AsyncIterator[bytes]:
    """SSE frames for a set of tasks until each has had its final event.

    Every cursor's inbox sets ``ready`` when it gets an event. The first frames are the
    current states the client does not have; then each change, in the order the inboxes
    are found ready. When the web process loses Redis, the hub's id-less error event ends
    the whole stream, and a reconnect resumes from the last id.
    """
    frames = _Frames(cursors)
    first = [frames.frame(task_id, event) for task_id, c in cursors.items() if (event := c.take(c.snapshot))]
    yield b"retry: %d\n" % retry_ms + (b"".join(first) if first else b"\n")
    if all(c.done for c in cursors.values()):
        return
    await hub.sync()
    for cursor in cursors.values():
        cursor.caught_up()
    while True:
        # Cleared before the inboxes are read, so an event put while a frame is being sent
        # wakes the next round instead of waiting for the one after it.
        ready.clear()
        out: list[bytes] = []
        for task_id, cursor in cursors.items():
            while (message := cursor.inbox.pop()) is not None:
                event = cursor.take(message)
                if event is None:
                    continue
                if event.id is None:  # the subscription is lost: end it all, without an id
                    yield b"".join(out) + event.frame
                    return
                out.append(frames.frame(task_id, event))
        if out:
            yield b"".join(out)
        if all(c.done for c in cursors.values()):
            return
        await ready.wait()

"""Many tasks over one SSE stream: the frames, and event ids that say where a client is in each.

A browser opens at most six connections to a host over HTTP/1.1; a page that follows each
job on a stream of its own stalls at the seventh. This stream carries any number of tasks
(up to ``MAX_TASKS_PER_STREAM``), each event naming its task.

Event ids. Each one is the client's position in every task of the set once it has that
event: for each task it has had an event of, 6 bytes of the task id (its first 12 hex
digits, random in a uuid4), the 8 bytes of its last state's content id (the single-task
stream's id, a hash of the state; zeros for none) and 8 bytes for its last segment (the
entry id ``<ms>-<seq>`` of the task's live-results stream: 6 bytes of ms, 2 of seq; zeros
for none), sorted, then base64url without padding, after ``2.``. (``1.`` ids, from before
segments, carry states only and are still read.)
Derived from content alone, an id means the same on every replica and after restarts, and
a client may bring it to a stream of another set of tasks: the positions of tasks in both
carry over, tasks new to it start from their current state. An id that this service cannot
have sent is refused (``decode_positions`` raises ValueError, the endpoint answers 400).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import AsyncGenerator, Iterable, Mapping

from live_progress.web.engine.events import TaskEvent
from live_progress.web.engine.frames import event_frame, opening
from live_progress.web.engine.hub import Wake
from live_progress.web.engine.streaming import Cursor, entry_order

_VERSION = "2."
_STATES_ONLY = "1."
_KEY_BYTES = 6
_EVENT_ID_BYTES = 8
_SEGMENT_BYTES = 8
_NONE = bytes(_EVENT_ID_BYTES)
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

POSITIONS_EXPECTED = (
    "it must be an id this service's many-task stream sent: '2.' (or '1.') and then base64url, "
    f"without padding, of {_KEY_BYTES + _EVENT_ID_BYTES + _SEGMENT_BYTES} bytes per task "
    f"({_KEY_BYTES + _EVENT_ID_BYTES} after '1.')"
)

Position = tuple[str | None, str | None]  # the last state's content id, the last segment's entry id


def _key(task_id: str) -> bytes:
    return uuid.UUID(task_id).bytes[:_KEY_BYTES]


def _pack_segment(entry_id: str | None) -> bytes:
    if entry_id is None:
        return _NONE
    ms, seq = entry_order(entry_id)
    return ms.to_bytes(6, "big") + min(seq, 0xFFFF).to_bytes(2, "big")


def _unpack_segment(packed: bytes) -> str | None:
    if packed == _NONE:
        return None
    return f"{int.from_bytes(packed[:6], 'big')}-{int.from_bytes(packed[6:], 'big')}"


def encode_positions(positions: Mapping[str, Position]) -> str:
    """The event id that records ``positions`` (task id -> its last state and segment)."""
    entries = sorted(
        _key(task_id) + (bytes.fromhex(state) if state else _NONE) + _pack_segment(segment)
        for task_id, (state, segment) in positions.items()
    )
    return _VERSION + base64.urlsafe_b64encode(b"".join(entries)).rstrip(b"=").decode()


def decode_positions(raw: str | None, task_ids: Iterable[str]) -> dict[str, Position]:
    """Where a client is in each of ``task_ids``, from an id ``encode_positions`` made (none
    for no id, or an empty one).

    Tasks the id does not name, and any two of ``task_ids`` that share a key, get no
    position. An id ``encode_positions`` cannot have made is a ValueError
    (``POSITIONS_EXPECTED``): a client's mistake is told, not taken for no position.
    """
    if not raw:
        return {}
    if not raw.startswith((_VERSION, _STATES_ONLY)):
        raise ValueError(POSITIONS_EXPECTED)
    entry = _KEY_BYTES + _EVENT_ID_BYTES + (_SEGMENT_BYTES if raw.startswith(_VERSION) else 0)
    body = raw[len(_VERSION) :]
    # Strictly base64url (the decoder would skip any other character) of whole entries.
    if not _BASE64URL.fullmatch(body) or len(body) % 4 == 1:
        raise ValueError(POSITIONS_EXPECTED)
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(POSITIONS_EXPECTED) from None
    if len(packed) % entry:
        raise ValueError(POSITIONS_EXPECTED)
    has: dict[bytes, Position] = {}
    for at in range(0, len(packed), entry):
        state = packed[at + _KEY_BYTES : at + _KEY_BYTES + _EVENT_ID_BYTES]
        segment = packed[at + _KEY_BYTES + _EVENT_ID_BYTES : at + entry]
        has[packed[at : at + _KEY_BYTES]] = (
            state.hex() if state != _NONE else None,
            _unpack_segment(segment) if segment else None,
        )
    by_key: dict[bytes, list[str]] = {}
    for task_id in task_ids:
        by_key.setdefault(_key(task_id), []).append(task_id)
    return {ids[0]: has[key] for key, ids in by_key.items() if len(ids) == 1 and key in has}


def _frame(task_id: str, event: TaskEvent, cursors: Mapping[str, Cursor]) -> bytes:
    """``event`` of ``task_id``, just taken by its cursor, with the positions in every task after it."""
    positions = {t: (c.last_id, c.segment_id) for t, c in cursors.items() if c.last_id or c.segment_id}
    # event.data is the polling body, {"root": ...}: the task id goes in front of root.
    data = b'{"task_id":"%s",%s' % (task_id.encode(), event.data[1:])
    return event_frame(event.kind, data, encode_positions(positions))


async def task_set_frames(cursors: Mapping[str, Cursor], ready: Wake, retry_ms: int) -> AsyncGenerator[bytes, None]:
    """SSE frames for a set of tasks until each has had its final event.

    Every cursor's inbox sets ``ready`` when it gets an event, and the response when it wants
    a word (live_progress/web/engine/sse.py). The first frames are the current states the client does not have;
    then each change, in the order the inboxes are found ready. When the web process loses
    Redis, the hub's id-less error event ends the whole stream, and a reconnect resumes from
    the last id.
    """
    first = [_frame(task_id, event, cursors) for task_id, c in cursors.items() for event in c.first()]
    yield opening(retry_ms, b"".join(first))
    if all(c.done for c in cursors.values()):
        return
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
                out.append(_frame(task_id, event, cursors))
        # b"" when woken with nothing new: the response's moment to ping, or to end (live_progress/web/engine/sse.py).
        yield b"".join(out)
        if all(c.done for c in cursors.values()):
            return
        await ready.wait()

"""Client events: a task's stored Celery state, encoded once for every watcher."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from live_progress.contract import WORKER_LOST, EventKind, Outcome, TaskView, failed_view, view_task
from live_progress.web.engine.frames import event_frame

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TaskEvent:
    kind: EventKind
    final: bool
    data: bytes  # the polling endpoint's JSON body at this state
    id: str | None
    frame: bytes  # the SSE frame, shared by every connection that sends it
    executing: bool = False  # a worker should be keeping a heartbeat for it
    outcome: Outcome | None = None  # how a final event ended
    waiting: bool = False  # queued again to resume: a worker may have begun it without a word yet

    @classmethod
    def from_view(cls, view: TaskView) -> TaskEvent:
        data = orjson.dumps(view.body)
        # Derived from the content alone, so every connection and every replica
        # gives the same state the same id, and Last-Event-ID works across them.
        event_id = hashlib.blake2b(view.kind.encode() + b"\n" + data, digest_size=8).hexdigest()
        frame = event_frame(view.kind, data, event_id)
        return cls(view.kind, view.final, data, event_id, frame, view.executing, view.outcome, view.waiting)


def after_last(events: Iterable[TaskEvent], event_id: str | None) -> list[TaskEvent]:
    """The events after the last one with ``event_id``; all of them if none has it.

    Messages that reach a listener before a snapshot's barrier are either the snapshot's own
    state and older ones, or all newer: this keeps exactly the newer ones.
    """
    events = list(events)
    ids = [event.id for event in events]
    if event_id not in ids:
        return events
    return events[len(ids) - ids[::-1].index(event_id) :]


def event_for_meta(raw: bytes | None) -> TaskEvent:
    """The event for the meta Celery stored for a task (``None``: nothing stored yet)."""
    if raw is None:
        return PENDING_EVENT
    try:
        meta = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # Celery's JSON encoder writes NaN and Infinity as bare tokens, which only the
        # standard library reads; a task may well report a NaN percent.
        try:
            meta = json.loads(raw)
        except ValueError:
            meta = None
    if not isinstance(meta, dict):
        logger.error("Unreadable task state %r", raw[:200])
        return UNREADABLE_EVENT
    return TaskEvent.from_view(view_task(meta))


PENDING_EVENT = TaskEvent.from_view(view_task(None))
UNREADABLE_EVENT = TaskEvent.from_view(failed_view("the task's stored state is unreadable"))
WORKER_LOST_EVENT = TaskEvent.from_view(failed_view(WORKER_LOST))


def segment_event(message: bytes) -> TaskEvent:
    """A live result from the message a worker published with it (``b"<entry id> <json root>"``,
    live_progress/job.py). Its id is the entry's id in the task's stream; frames that carry it
    are made per stream, whose ids also hold the state position (engine/streaming.py)."""
    entry_id, _, root = message.partition(b" ")
    return TaskEvent("segment", False, b'{"root":%s}' % root, entry_id.decode(), b"")


def stream_lost_event(reason: str) -> TaskEvent:
    """Ends a stream whose source of truth went away; it has no id so a reconnect resumes."""
    data = orjson.dumps({"error": f"{reason}; reconnect to resume", "reconnect": True})
    return TaskEvent("error", True, data, None, event_frame("error", data))

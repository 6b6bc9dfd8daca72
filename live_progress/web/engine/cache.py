"""The latest state of recently read tasks, kept current by the process's subscription.

A poll, or a stream opening on a task another stream already follows, then costs no Redis
round trip: Celery publishes every state it stores, and the hub hands each one to the
entry. An entry also knows whether the task has no live results (segments) yet, so a
stream opening on it need not read them. An entry is filled the way a stream opens
(follow, then read, then drop what the read already covered), lives ``ttl`` seconds (by
``clock``), and dies with the subscription.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from live_progress.web.engine.events import TaskEvent, after_last
from live_progress.web.engine.hub import Follower, StateHub
from live_progress.web.engine.store import TaskStore


class _Entry(Follower):
    def __init__(self, endpoint: str | None = None) -> None:
        self.endpoint = endpoint
        self.event: TaskEvent | None = None
        self.expires = 0.0
        self.alive = True
        self.read_no_segments = False  # the read found no live results
        self.heard_segment = False  # one was published since it began following
        self._early: list[TaskEvent] | None = []  # messages that came while it was filling

    def put(self, event: TaskEvent) -> None:
        if event.kind == "segment":  # a log entry, not the task's state
            self.heard_segment = True
            return
        if event.id is None:  # the subscription is gone: this entry can no longer be trusted
            self.alive = False
            self.stop()
        elif self._early is not None:
            self._early.append(event)
        else:
            self.event = event

    def settle(self, snapshot: TaskEvent) -> None:
        """Take the read state, or what came after it: messages up to it are older or equal."""
        newer, self._early = after_last(self._early or [], snapshot.id), None
        self.event = newer[-1] if newer else snapshot


class StateCache:
    def __init__(
        self,
        hub: StateHub,
        store: TaskStore,
        ttl: float = 30.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hub = hub
        self._clock = clock
        self._store = store
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, _Entry] = {}
        self._next_sweep = 0.0

    def peek(self, task_id: str) -> tuple[str, TaskEvent] | None:
        """The cached endpoint and state of ``task_id``, if there is a good one; no I/O."""
        entry = self._entries.get(task_id)
        if entry is None or not entry.alive or entry.expires < self._clock() or entry.event is None:
            return None
        assert entry.endpoint is not None
        return entry.endpoint, entry.event

    def has_no_segments(self, task_id: str) -> bool:
        """True when ``task_id`` is cached and has published no live results; no I/O."""
        entry = self._entries.get(task_id)
        return (
            entry is not None and entry.read_no_segments and not entry.heard_segment and self.peek(task_id) is not None
        )

    async def read_issued(self, task_id: str) -> tuple[str | None, TaskEvent]:
        """Which endpoint issued ``task_id`` (None: none did) and its current state.

        For an issued task the state is current as of a barrier on the subscription
        (``StateHub.sync``) or newer: a stream that began following the task before this call
        has every state message up to it in its inbox already (live_progress/web/engine/streaming.py counts on it)."""
        self._sweep()
        cached = self.peek(task_id)
        if cached is not None:
            return cached
        if not self._hub.connected:
            return await self._store.read_issued(task_id)
        self._drop(task_id)
        entry = _Entry()
        entry.follow(self._hub, task_id)
        try:
            endpoint, snapshot, segments = await self._store.read_issued_for_cache(task_id)
            if endpoint is None:
                entry.stop()
                return None, snapshot
            await self._hub.sync()
        except BaseException:
            entry.stop()
            raise
        entry.endpoint = endpoint
        # One published after the read reaches the entry, which follows the task already.
        entry.read_no_segments = not segments
        entry.settle(snapshot)
        entry.expires = self._clock() + self._ttl
        self._keep(task_id, entry)
        assert entry.event is not None
        return endpoint, entry.event

    def forget(self, task_id: str) -> None:
        """Drop what is cached of ``task_id`` (this process just changed it)."""
        self._drop(task_id)

    def _keep(self, task_id: str, entry: _Entry) -> None:
        while len(self._entries) >= self._max:  # full: the oldest go first
            self._drop(next(iter(self._entries)))
        self._drop(task_id)
        self._entries[task_id] = entry

    def _sweep(self) -> None:
        """Stop following tasks whose entries expired (at most once per ttl)."""
        now = self._clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._ttl
        for task_id in [key for key, entry in self._entries.items() if entry.expires < now or not entry.alive]:
            self._drop(task_id)

    def _drop(self, task_id: str) -> None:
        entry = self._entries.pop(task_id, None)
        if entry is not None:
            entry.stop()

"""A heartbeat in Redis for each task a worker process is executing.

The web layer reads a running task without a heartbeat as lost with its worker, which is
how a stream ends with "worker lost" even when the whole worker was killed at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from redis import Redis

from live_progress.contract import heartbeat_key

logger = logging.getLogger(__name__)


class Heartbeats:
    """Keeps ``heartbeat_key(task_id)`` alive for ``ttl`` seconds past the latest beat,
    beating every ``ttl / 4`` seconds while the task runs, and lets it expire after."""

    def __init__(self, client: Callable[[], Redis], ttl: float) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl has value {ttl!r}; it must be > 0")
        self._client = client
        self._ttl_ms = int(ttl * 1000)
        self._interval = ttl / 4
        self._reset()

    def _reset(self) -> None:
        # Prefork children inherit this object but not its thread: each process has its own.
        self._pid = os.getpid()
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def started(self, task_id: str) -> None:
        if self._pid != os.getpid():
            self._reset()
        with self._lock:
            self._running.add(task_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
                self._thread.start()
        self._beat([task_id])

    def finished(self, task_id: str) -> None:
        # The key is left to expire rather than deleted: when a task is revoked, its process
        # finishes before the worker records REVOKED, and a deleted heartbeat in between
        # would read as a lost worker.
        with self._lock:
            self._running.discard(task_id)

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            with self._lock:
                running = list(self._running)
            if running:
                self._beat(running)

    def _beat(self, task_ids: list[str]) -> None:
        try:
            with self._client().pipeline(transaction=False) as pipe:
                for task_id in task_ids:
                    pipe.set(heartbeat_key(task_id), b"1", px=self._ttl_ms)
                pipe.execute()
        except Exception:
            # A missed beat is tolerated until the ttl runs out; the next one may land.
            logger.warning("Could not write the heartbeat of %s", task_ids, exc_info=True)


def install_heartbeats(celery: Celery, ttl: float) -> Heartbeats:
    """Beat for every task this app's workers execute (connected once per app)."""
    heartbeats = Heartbeats(lambda: celery.backend.client, ttl)

    def on_prerun(sender: Any = None, task_id: str | None = None, **_: Any) -> None:
        if task_id and sender is not None and sender.app is celery:
            heartbeats.started(task_id)

    def on_postrun(sender: Any = None, task_id: str | None = None, **_: Any) -> None:
        if task_id and sender is not None and sender.app is celery:
            heartbeats.finished(task_id)

    task_prerun.connect(on_prerun, weak=False, dispatch_uid=f"heartbeat-prerun-{id(celery)}")
    task_postrun.connect(on_postrun, weak=False, dispatch_uid=f"heartbeat-postrun-{id(celery)}")
    return heartbeats

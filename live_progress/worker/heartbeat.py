"""A heartbeat in Redis for each task a worker process is executing.

The key holds the token of the execution that beats (live_progress/worker/attempts.py), and is
renewed only while the task's run holds that token: a task taken over from a paused worker is
not kept alive by it when it wakes. Without a heartbeat (or with another execution's) a running
task is lost with its worker (live_progress/takeover.py), even when the whole worker was killed at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis import Redis

from live_progress.contract import heartbeat_key, run_key

if TYPE_CHECKING:
    from live_progress.worker.attempts import Executions

logger = logging.getLogger(__name__)

# KEYS: the heartbeat, the run. ARGV: the token, the heartbeat's ttl in ms.
_BEAT = """
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


class Heartbeats:
    """Keeps ``heartbeat_key(task_id)`` alive for ``ttl`` seconds past the latest beat,
    beating every ``ttl / 4`` seconds while the task runs, and lets it expire after."""

    def __init__(self, client: Callable[[], Redis], ttl: float, executions: Executions | None = None) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl has value {ttl!r}; it must be > 0")
        self._client = client
        self._ttl_ms = int(ttl * 1000)
        self._interval = ttl / 4
        self._executions = executions
        self._reset()

    def _reset(self) -> None:
        # Prefork children inherit this object but not its thread: each process has its own.
        self._pid = os.getpid()
        self._running: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def started(self, task_id: str, token: str | None = None) -> None:
        """Beat for ``task_id`` under ``token`` (None: the run could not be recorded; beat plainly)."""
        if self._pid != os.getpid():
            self._reset()
        with self._lock:
            self._running[task_id] = token
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
                self._thread.start()
        if token is None:  # with a token, the run's start wrote the first beat
            self._beat([(task_id, token)])

    def finished(self, task_id: str) -> None:
        # The key is left to expire rather than deleted: when a task is revoked, its process
        # finishes before the worker records REVOKED, and a deleted heartbeat in between
        # would read as a lost worker.
        with self._lock:
            self._running.pop(task_id, None)

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            with self._lock:
                running = list(self._running.items())
            if running:
                self._beat(running)

    def _beat(self, running: list[tuple[str, str | None]]) -> None:
        try:
            redis = self._client()
            beat = redis.register_script(_BEAT)
            with redis.pipeline(transaction=False) as pipe:
                for task_id, token in running:
                    if token is None:
                        pipe.set(heartbeat_key(task_id), b"1", px=self._ttl_ms)
                    else:
                        beat(keys=[heartbeat_key(task_id), run_key(task_id)], args=[token, self._ttl_ms], client=pipe)
                replies = pipe.execute()
        except Exception:
            # A missed beat is tolerated until the ttl runs out; the next one may land.
            logger.warning("Could not write the heartbeat of %s", [task_id for task_id, _ in running], exc_info=True)
            return
        for (task_id, token), reply in zip(running, replies, strict=True):
            if token is not None and reply == 0 and self._executions is not None:
                self._executions.supersede(task_id)

"""Each execution of a task holds its run (live_progress/takeover.py) by a token, and writes only
while it does: a worker that was paused past ``WORKER_LOST_AFTER`` (SIGSTOP, a frozen VM, a long
GC) wakes to find its task taken over, and nothing it writes then lands.

- As a task starts, its run records how to send it again and a new token, its heartbeat holds
  that token, and its id joins the running set; as it ends, the run is dropped (or left queued).
- Every state Celery stores for a task that this process executes goes through one Lua script
  that writes only while the run holds this execution's token (``fenced_backend``); the same
  script drops a progress state whose percent is below the one shown, so a resumed task cannot
  send the percent back. Live results, checkpoints and heartbeats are checked the same way
  (live_progress/job.py, heartbeat.py). A refused write marks the execution superseded, and
  ``Job.stop_requested()`` then tells the task to stop.
- Every worker looks, every quarter of ``WORKER_LOST_AFTER``, for running tasks whose heartbeat
  is gone and takes them over (``Reaper``): a task is resumed even when nobody watches it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

from celery import Celery, states
from celery.signals import task_postrun, task_prerun, worker_ready, worker_shutdown
from redis import Redis

from live_progress.contract import RUNNING_KEY, checkpoint_key, heartbeat_key, run_key
from live_progress.settings import MAX_TASK_ATTEMPTS
from live_progress.takeover import Claim, take_over
from live_progress.worker._celery_seams import use_backend_class
from live_progress.worker.heartbeat import Heartbeats

logger = logging.getLogger(__name__)

# KEYS: the run, the heartbeat, the running set. ARGV: the task id, its name, args and kwargs
# (JSON), its queue, the worker, the run's ttl, the heartbeat's ttl in ms, the new token.
_BEGIN = """
local attempt = redis.call('HGET', KEYS[1], 'attempt') or '1'
redis.call('HSET', KEYS[1], 'attempt', attempt, 'state', 'running', 'token', ARGV[9], 'name', ARGV[2],
  'args', ARGV[3], 'kwargs', ARGV[4], 'queue', ARGV[5], 'worker', ARGV[6], 'on', '')
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('SET', KEYS[2], ARGV[9], 'PX', ARGV[8])
redis.call('SADD', KEYS[3], ARGV[1])
return attempt
"""

# KEYS: the run, the running set, the checkpoint. ARGV: the task id, the token, '1' when the
# task's state is final (then its run and checkpoint go with it).
_END = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[2] then return 0 end
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[1], KEYS[3])
else
  redis.call('HSET', KEYS[1], 'state', 'queued', 'token', '')
end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
"""

# KEYS: the task's Celery state, the run. ARGV: the state's JSON, its ttl in seconds ('0': none),
# the token, the percent of a progress state ('' for another state).
# Returns 1 when written, 0 when another execution holds the run, 2 when the percent is behind.
_FENCED_SET = """
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[3] then return 0 end
if ARGV[4] ~= '' then
  local stored = redis.call('GET', KEYS[1])
  if stored then
    local ok, meta = pcall(cjson.decode, stored)
    if ok and type(meta) == 'table' and (meta.status == 'PROGRESS' or meta.status == 'WAITING')
        and type(meta.result) == 'table' then
      local shown = tonumber(meta.result.percent)
      if shown and shown > tonumber(ARGV[4]) then return 2 end
    end
  end
end
if ARGV[2] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
"""

# KEYS: the run. ARGV: the token, then field, value pairs.
_RUN_SET = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


class Executions:
    """The token of each task this process executes, and which of them were superseded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        # A forked pool process inherits its parent's registry, not its tasks.
        self._pid = os.getpid()
        self._tokens: dict[str, str] = {}
        self._superseded: set[str] = set()

    def begin(self, task_id: str, token: str) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._reset()
            self._tokens[task_id] = token
            self._superseded.discard(task_id)

    def end(self, task_id: str) -> None:
        with self._lock:
            self._tokens.pop(task_id, None)
            self._superseded.discard(task_id)

    def token(self, task_id: str) -> str | None:
        """The token this process executes ``task_id`` under; None when it does not execute it."""
        if self._pid != os.getpid():
            return None
        return self._tokens.get(task_id)

    def supersede(self, task_id: str) -> None:
        with self._lock:
            if task_id in self._tokens and task_id not in self._superseded:
                self._superseded.add(task_id)
                logger.warning(
                    "Task %s was taken over by another worker: this one writes nothing more for it and stops",
                    task_id,
                    extra={"task_id": task_id},
                )

    def superseded(self, task_id: str) -> bool:
        return task_id in self._superseded


EXECUTIONS = Executions()


def fenced_write(redis: Redis, script: str, task_id: str, keys: list[Any], args: list[Any]) -> Any:
    """Run ``script`` with this execution's token of ``task_id`` put first in ``args`` (None:
    unfenced, when this process does not execute it); a reply of 0 means another execution
    holds the run, and marks this one superseded."""
    token = EXECUTIONS.token(task_id)
    reply = redis.register_script(script)(keys=keys, args=[token or "", *args])
    if reply == 0 and token is not None:
        EXECUTIONS.supersede(task_id)
    return reply


def set_run_fields(redis: Redis, task_id: str, **fields: str) -> None:
    """Record ``fields`` in ``task_id``'s run while this process's execution holds it."""
    if EXECUTIONS.token(task_id) is None:
        return
    pairs = [part for item in fields.items() for part in item]
    fenced_write(redis, _RUN_SET, task_id, [run_key(task_id)], pairs)


class FencedWrites:
    """Mixed into the app's result backend class (Celery's Redis or Sentinel backend): a state of
    a task this process executes is written by ``_FENCED_SET``; other keys as Celery does."""

    task_keyprefix: bytes | str
    expires: Any
    client: Redis

    def _set(self, key: Any, value: Any, expires: Any = None) -> None:
        name = key.decode() if isinstance(key, bytes) else str(key)
        prefix = self.task_keyprefix.decode() if isinstance(self.task_keyprefix, bytes) else self.task_keyprefix
        task_id = name[len(prefix) :] if name.startswith(prefix) else None
        token = EXECUTIONS.token(task_id) if task_id else None
        if task_id is None or token is None:
            super()._set(key, value, expires)  # type: ignore[misc]
            return
        ttl = self.expires if expires is None else expires
        reply = self.client.register_script(_FENCED_SET)(
            keys=[key, run_key(task_id)], args=[value, int(ttl or 0), token, _progress_percent(value)]
        )
        if reply == 0:
            EXECUTIONS.supersede(task_id)


def _progress_percent(value: Any) -> str:
    """The percent of a PROGRESS state's JSON, as text; '' for any other state."""
    try:
        meta = json.loads(value)
        if meta.get("status") == "PROGRESS" and isinstance(meta.get("result"), dict):
            percent = float(meta["result"]["percent"])
            return repr(percent)
    except (ValueError, TypeError, KeyError, AttributeError):
        pass
    return ""


def fenced_backend(base: type) -> type:
    """``base`` (the app's result backend class) with ``FencedWrites``."""
    return type(f"Fenced{base.__name__}", (FencedWrites, base), {})


# The most attempts of each app's tasks (install_attempts), for take_over_dead.
_MAX_ATTEMPTS: dict[int, int] = {}


def max_attempts_of(celery: Celery) -> int:
    """MAX_TASK_ATTEMPTS of the worker running ``celery`` (its default where none was installed)."""
    return _MAX_ATTEMPTS.get(id(celery), MAX_TASK_ATTEMPTS)


def take_over_dead(celery: Celery, task_id: str) -> bool:
    """The pool process executing ``task_id`` died: take the task over now (or fail it after its
    last attempt). False when it is not this project's task to take over (no run)."""
    max_attempts = _MAX_ATTEMPTS.get(id(celery))
    if max_attempts is None:
        return False
    # Called in the worker's event loop, which must not publish to the broker itself: sent from a thread.
    claim = take_over(celery, task_id, max_attempts, dead=True, send=_in_a_thread)
    return claim.outcome in ("requeue", "failed", "queued", "ended")


def _in_a_thread(call: Callable[[], Any]) -> None:
    threading.Thread(target=call, name="takeover-send", daemon=True).start()


class Reaper:
    """Takes over the running tasks whose worker is lost, every ``interval`` seconds, in a
    thread of the worker's main process."""

    def __init__(self, celery: Celery, interval: float, max_attempts: int) -> None:
        self._celery = celery
        self._interval = interval
        self._max_attempts = max_attempts
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="takeover", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while True:
            try:
                self.check()
            except Exception:  # noqa: BLE001 - Redis away: the next round tries again
                logger.warning("Could not look for lost tasks", exc_info=True)
            if self._stop.wait(self._interval):
                return

    def check(self) -> list[Claim]:
        """Claim every running task whose heartbeat does not hold its run's token."""
        redis = self._celery.backend.client
        running = sorted(member.decode() for member in redis.smembers(RUNNING_KEY))
        if not running:
            return []
        with redis.pipeline(transaction=False) as pipe:
            for task_id in running:
                pipe.hget(run_key(task_id), "token")
                pipe.get(heartbeat_key(task_id))
            replies = pipe.execute()
        claims = []
        for task_id, token, beat in zip(running, replies[::2], replies[1::2], strict=True):
            if token is None or beat != token:
                claims.append(take_over(self._celery, task_id, self._max_attempts))
        return claims


def install_attempts(celery: Celery, lost_after: float, max_attempts: int, ttl: int) -> Heartbeats:
    """Record, fence and beat for every task this app's workers execute, and take over lost ones."""
    use_backend_class(celery, fenced_backend)
    _MAX_ATTEMPTS[id(celery)] = max_attempts
    heartbeats = Heartbeats(lambda: celery.backend.client, lost_after, EXECUTIONS)
    reaper = Reaper(celery, lost_after / 4, max_attempts)
    begin_ms = int(lost_after * 1000)

    def on_prerun(
        sender: Any = None, task_id: str | None = None, args: Any = None, kwargs: Any = None, **_: Any
    ) -> None:
        if not task_id or sender is None or sender.app is not celery:
            return
        request = sender.request
        queue = (request.delivery_info or {}).get("routing_key") or ""
        token = uuid.uuid4().hex
        try:
            redis = celery.backend.client
            redis.register_script(_BEGIN)(
                keys=[run_key(task_id), heartbeat_key(task_id), RUNNING_KEY],
                args=[
                    task_id,
                    sender.name,
                    json.dumps(list(args or ())),
                    json.dumps(dict(kwargs or {})),
                    queue,
                    request.hostname or "",
                    ttl,
                    begin_ms,
                    token,
                ],
            )
        except Exception:  # noqa: BLE001 - the task runs; lost, it fails as a foreign task would
            logger.warning("Could not record the start of %s", task_id, exc_info=True)
            heartbeats.started(task_id, None)
            return
        EXECUTIONS.begin(task_id, token)
        heartbeats.started(task_id, token)

    def on_postrun(sender: Any = None, task_id: str | None = None, state: str | None = None, **_: Any) -> None:
        if not task_id or sender is None or sender.app is not celery:
            return
        heartbeats.finished(task_id)
        token = EXECUTIONS.token(task_id)
        EXECUTIONS.end(task_id)
        if token is None:
            return
        final = "1" if state in states.READY_STATES else "0"
        try:
            celery.backend.client.register_script(_END)(
                keys=[run_key(task_id), RUNNING_KEY, checkpoint_key(task_id)], args=[task_id, token, final]
            )
        except Exception:  # noqa: BLE001 - left running, the run is claimed once its heartbeat expires
            logger.warning("Could not record the end of %s", task_id, exc_info=True)

    uid = id(celery)
    task_prerun.connect(on_prerun, weak=False, dispatch_uid=f"attempts-prerun-{uid}")
    task_postrun.connect(on_postrun, weak=False, dispatch_uid=f"attempts-postrun-{uid}")
    worker_ready.connect(
        lambda sender=None, **_: reaper.start() if sender is None or sender.app is celery else None,
        weak=False,
        dispatch_uid=f"attempts-reaper-{uid}",
    )
    worker_shutdown.connect(lambda **_: reaper.stop(), weak=False, dispatch_uid=f"attempts-reaper-stop-{uid}")
    return heartbeats

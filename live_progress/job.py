"""What a plugin's task needs beyond Celery's own ``update_state``: one small helper.

Progress stays the seed's way, ``self.update_state(state="PROGRESS", meta={"percent": ...,
"description": ...})``. ``Job(self)`` adds the rest: publishing live results, whether the
worker was asked to stop (SIGTERM, a deploy), and a JSON checkpoint to resume from on the
next worker (``hand_over``).
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from live_progress.contract import (
    WAITING_STATE,
    checkpoint_key,
    children_key,
    heartbeat_key,
    progress_meta,
    run_key,
    segments_key,
)
from live_progress.outages import through_outages

if TYPE_CHECKING:  # Celery is imported where a task runs, not by ``import live_progress``.
    from celery import Task
    from celery.backends.redis import RedisBackend

__all__ = ["Job", "require_redis_backend"]

logger = logging.getLogger(__name__)

# Live results kept per task (the oldest go first past it).
_LIVE_RESULTS_CAP = 100_000
# Every script below writes only while the run of the task that writes (the job's own, or a
# helper's) holds its execution's token (ARGV[1]; '' for a task this process does not execute):
# a worker that wakes after its task was taken over writes nothing (live_progress/worker/attempts.py).
_FENCE = """
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
"""
# Checkpoint fields from ARGV[first] on, in name, JSON pairs ('' removes the field).
_SAVE_FIELDS = """
local function save(key, first, ttl)
  for i = first, #ARGV, 2 do
    if ARGV[i + 1] == '' then
      redis.call('HDEL', key, ARGV[i])
    else
      redis.call('HSET', key, ARGV[i], ARGV[i + 1])
    end
  end
  redis.call('EXPIRE', key, ttl)
end
"""
# KEYS: the writer's run, the stream[, the checkpoint]. ARGV: the token, the result's JSON, the
# keys' ttl in seconds, the stream's cap[, the checkpoint's fields]. Appended (for a client that
# comes late or reconnects) and published (for the web's one subscription) in one script, so the
# published message carries the entry's id and nothing comes between; a checkpoint given with it
# is saved in the same step, so a worker that dies leaves either both or neither.
_APPEND = (
    _FENCE
    + _SAVE_FIELDS
    + """
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'root', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', KEYS[2], id .. ' ' .. ARGV[2])
if KEYS[3] then save(KEYS[3], 5, ARGV[3]) end
return id
"""
)
# KEYS: the writer's run, the checkpoint. ARGV: the token, the ttl, the fields.
_SAVE = _FENCE + _SAVE_FIELDS + "save(KEYS[2], 3, ARGV[2])\nreturn 1\n"
# KEYS: the writer's run, the checkpoint. ARGV: the token.
_CLEAR = _FENCE + "redis.call('DEL', KEYS[2])\nreturn 1\n"


def require_redis_backend(celery: Any) -> RedisBackend:
    """The app's result backend, which must be Celery's Redis backend: the web streams the
    states that backend publishes as it stores them; another backend would leave streams silent."""
    from celery.backends.redis import RedisBackend

    backend = celery.backend
    if not isinstance(backend, RedisBackend):
        raise RuntimeError(
            f"live_progress needs Celery's Redis result backend; this app's result_backend is "
            f"{type(backend).__name__} ({celery.conf.result_backend!r}). Set result_backend to a redis:// URL."
        )
    return backend


class Job:
    """The submitted task's side channel. ``task_id`` defaults to the running task's; a task that
    works on another's behalf (a helper of a split batch) names the one the client follows.

    Every write goes through while the task that makes it still holds its run: once a worker
    was lost and its task taken over, what the old execution writes is dropped, and
    ``stop_requested()`` turns true for it."""

    def __init__(self, task: Task, task_id: str | None = None) -> None:
        self.task = task
        self.id: str = task_id or task.request.id
        # The task that writes: its run fences every write (the job's own task, or a helper).
        self.writer: str = task.request.id or self.id
        self._redis = require_redis_backend(task.app).client
        expires = task.app.conf.result_expires
        self.ttl = int(expires.total_seconds() if isinstance(expires, datetime.timedelta) else expires or 86_400)

    @property
    def max_attempts(self) -> int:
        """How many of its workers may die before the job ends in error (MAX_TASK_ATTEMPTS): a
        plugin that hands out parts of the job gives up on a part after as many."""
        from live_progress.worker.attempts import max_attempts_of

        return max_attempts_of(self.task.app)

    def _fenced(self, script: str, keys: list[Any], args: list[Any]) -> Any:
        from live_progress.worker.attempts import fenced_write

        return fenced_write(self._redis, script, self.writer, [run_key(self.writer), *keys], args)

    # Live results -------------------------------------------------------------------------

    @property
    def live_results_key(self) -> str:
        """The Redis Stream the live results go to: each entry's field ``root`` holds one."""
        return segments_key(self.id)

    @property
    def live_results_cap(self) -> int:
        return _LIVE_RESULTS_CAP

    @staticmethod
    def encode(root: Mapping[str, Any], line: str | None = None) -> str:
        """A live result as it is stored and sent: compact JSON, ``line`` added when given."""
        body = dict(root)
        if line is not None:
            body["line"] = line
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    def publish(
        self, root: Mapping[str, Any], line: str | None = None, checkpoint: Mapping[str, Any] | None = None
    ) -> None:
        """Send a live result to every stream of the job (``event: segment``), in order, once.

        ``root`` is JSON; its ``title`` says what kind of result it is. ``line`` is how it reads
        as one line of text: the page and the terminal client show it as it is. ``checkpoint``,
        when given, updates the saved one in the same step (as ``save_checkpoint``): the next
        attempt, after a SIGTERM or a worker's death, knows exactly which results were
        published. A result that cannot be published is logged, not raised: the task's final
        result still gets through.
        """
        keys = [self.live_results_key]
        args: list[Any] = [self.encode(root, line), self.ttl, _LIVE_RESULTS_CAP]
        if checkpoint is not None:
            keys.append(checkpoint_key(self.id))
            args.extend(_fields(checkpoint))
        try:
            self._fenced(_APPEND, keys, args)
        except Exception:
            logger.warning("Could not publish a live result of %s", self.id, exc_info=True)

    def working_on(self, item: str) -> None:
        """Say what the task works on now (a file's name): if its worker dies, the next attempt's
        log says so, and the error that ends a task whose workers died MAX_TASK_ATTEMPTS times
        names it for each attempt."""
        from live_progress.worker.attempts import set_run_fields

        try:
            set_run_fields(self._redis, self.writer, on=item)
        except Exception:
            logger.warning("Could not record what %s works on", self.id, exc_info=True)

    # Stopping -----------------------------------------------------------------------------

    def stop_requested(self) -> bool:
        """The worker is stopping (SIGTERM): save where the job stands and ``hand_over``. Also
        true once the task was taken over by another worker (this one was lost, then woke):
        then ``hand_over`` writes nothing and only ends the task."""
        from live_progress.worker.attempts import EXECUTIONS
        from live_progress.worker.stopping import stop_requested

        return stop_requested() or EXECUTIONS.superseded(self.writer)

    # Helper tasks -------------------------------------------------------------------------

    def add_helpers(self, task_ids: list[str]) -> None:
        """Tasks sent to do part of this job: a cancel of the job cancels them too. List each
        before sending it, so that a cancel in between finds it."""
        if task_ids:
            with self._redis.pipeline() as pipe:
                pipe.sadd(self.helpers_key(self.id), *task_ids)
                pipe.expire(self.helpers_key(self.id), self.ttl)
                pipe.execute()

    @staticmethod
    def helpers_key(task_id: str) -> str:
        """The Redis set of the helper tasks of ``task_id`` (for a plugin that lists them itself)."""
        return children_key(task_id)

    @staticmethod
    def heartbeat_key(task_id: str) -> str:
        """The Redis key that holds the token of the execution of ``task_id`` while a worker
        executes it (it expires WORKER_LOST_AFTER after the worker's last beat): whether a
        helper is still alive (``Job.execution``)."""
        return heartbeat_key(task_id)

    @staticmethod
    def run_key(task_id: str) -> str:
        """The Redis hash of the execution of ``task_id`` that may write (its ``token`` field):
        a plugin's own scripts that write about a part of the job check it, so that an
        execution taken over while it was paused writes nothing when it wakes."""
        return run_key(task_id)

    def execution(self) -> str:
        """The token of this task's execution (``writer``): the value its heartbeat holds while
        it runs. A plugin that hands out parts of a job records it with each part it gives a
        helper, and takes the part back when the helper's heartbeat no longer holds it."""
        from live_progress.worker.attempts import EXECUTIONS

        return EXECUTIONS.token(self.writer) or ""

    # Checkpoints --------------------------------------------------------------------------

    def load_checkpoint(self) -> dict[str, Any] | None:
        """What was saved for this job (a SIGTERM's ``hand_over``, or results published with a
        checkpoint before a worker died), or None when it starts afresh."""
        from redis.exceptions import ResponseError

        key = checkpoint_key(self.id)
        try:
            stored = self._redis.hgetall(key)
        except ResponseError:  # saved whole, by a worker of an earlier version
            raw = self._redis.get(key)
            return None if raw is None else json.loads(raw)
        if not stored:
            return None
        return {_text(name): json.loads(value) for name, value in stored.items()}

    def save_checkpoint(self, checkpoint: Mapping[str, Any]) -> None:
        """Update the saved checkpoint, a JSON object: the fields given replace those of the same
        name (a field given as None is removed), the others stay. A large checkpoint can so be
        kept current piece by piece (a field per item done). Retried while Redis does not answer
        (a restart, a failover) for up to a minute, as Celery's backend retries a state."""
        through_outages(
            lambda: self._fenced(_SAVE, [checkpoint_key(self.id)], [self.ttl, *_fields(checkpoint)]),
            f"save the checkpoint of {self.id}",
        )

    def clear_checkpoint(self) -> None:
        self._fenced(_CLEAR, [checkpoint_key(self.id)], [])

    def hand_over(self, checkpoint: Mapping[str, Any], percent: float, description: str, **extra: Any) -> NoReturn:
        """Leave the job to the next worker: the checkpoint saved, a waiting state that keeps
        its percent (nobody owes it a heartbeat), and the task queued again under its id. A task
        that was taken over from this worker writes nothing and only ends.

        Raises Celery's ``Ignore``, so nothing more is stored for this run."""
        from celery.exceptions import Ignore

        from live_progress.worker.attempts import EXECUTIONS, set_run_fields

        task, request = self.task, self.task.request
        if EXECUTIONS.superseded(self.writer):
            raise Ignore()
        self.save_checkpoint(checkpoint)
        task.update_state(task_id=self.id, state=WAITING_STATE, meta=progress_meta(percent, description, **extra))
        if EXECUTIONS.superseded(self.writer):
            raise Ignore()
        task.apply_async(args=request.args, kwargs=request.kwargs, task_id=self.id, add_to_parent=False)
        # A death from here on is no worker's: the message is in the queue.
        set_run_fields(self._redis, self.writer, state="queued")
        logger.info("Handed %s on at %d%%: the worker is stopping", self.id, percent, extra={"task_id": self.id})
        raise Ignore()


def _fields(checkpoint: Mapping[str, Any]) -> list[str]:
    if not isinstance(checkpoint, Mapping):
        raise TypeError(f"a checkpoint is a JSON object (a mapping), not {type(checkpoint).__name__}")
    pairs: list[str] = []
    for name, value in checkpoint.items():
        pairs += [str(name), "" if value is None else json.dumps(value)]
    return pairs


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

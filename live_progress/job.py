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

from live_progress.contract import WAITING_STATE, children_key, heartbeat_key, progress_meta, segments_key

if TYPE_CHECKING:  # Celery is imported where a task runs, not by ``import live_progress``.
    from celery import Task
    from celery.backends.redis import RedisBackend

__all__ = ["Job", "require_redis_backend"]

logger = logging.getLogger(__name__)

_CHECKPOINT_PREFIX = "live-progress:resume:"
# Live results kept per task (the oldest go first past it).
_LIVE_RESULTS_CAP = 100_000
# KEYS: the stream[, the checkpoint]. ARGV: the result's JSON, the keys' ttl in seconds, the
# stream's cap[, the checkpoint's JSON]. Appended (for a client that comes late or reconnects)
# and published (for the web's one subscription) in one script, so the published message
# carries the entry's id and nothing comes between; a checkpoint given with it is saved in the
# same step, so a worker that dies leaves either both or neither.
_APPEND = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'root', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[1], id .. ' ' .. ARGV[1])
if KEYS[2] then
  redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[2])
end
return id
"""


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
    works on another's behalf (a helper of a split batch) names the one the client follows."""

    def __init__(self, task: Task, task_id: str | None = None) -> None:
        self.task = task
        self.id: str = task_id or task.request.id
        self._redis = require_redis_backend(task.app).client
        expires = task.app.conf.result_expires
        self.ttl = int(expires.total_seconds() if isinstance(expires, datetime.timedelta) else expires or 86_400)
        self._append = self._redis.register_script(_APPEND)

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

    def publish(self, root: Mapping[str, Any], line: str | None = None, checkpoint: Any | None = None) -> None:
        """Send a live result to every stream of the job (``event: segment``), in order, once.

        ``root`` is JSON; its ``title`` says what kind of result it is. ``line`` is how it reads
        as one line of text: the page and the terminal client show it as it is. ``checkpoint``,
        when given, is saved in the same step (as ``save_checkpoint``): the next attempt knows
        exactly which results were published. A result that cannot be published is logged, not
        raised: the task's final result still gets through.
        """
        keys = [self.live_results_key]
        args: list[Any] = [self.encode(root, line), self.ttl, _LIVE_RESULTS_CAP]
        if checkpoint is not None:
            keys.append(_CHECKPOINT_PREFIX + self.id)
            args.append(json.dumps(checkpoint))
        try:
            self._append(keys=keys, args=args)
        except Exception:
            logger.warning("Could not publish a live result of %s", self.id, exc_info=True)

    # Stopping -----------------------------------------------------------------------------

    def stop_requested(self) -> bool:
        """The worker is stopping (SIGTERM): save where the job stands and ``hand_over``."""
        from live_progress.worker.stopping import stop_requested

        return stop_requested()

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
        """The Redis key that exists while a worker executes ``task_id`` (it expires
        WORKER_LOST_AFTER after the worker's last beat): whether a helper is still alive."""
        return heartbeat_key(task_id)

    # Checkpoints --------------------------------------------------------------------------

    def load_checkpoint(self) -> Any | None:
        """What ``hand_over`` saved for this job, or None when it starts afresh."""
        raw = self._redis.get(_CHECKPOINT_PREFIX + self.id)
        return None if raw is None else json.loads(raw)

    def save_checkpoint(self, checkpoint: Any) -> None:
        self._redis.set(_CHECKPOINT_PREFIX + self.id, json.dumps(checkpoint), ex=self.ttl)

    def clear_checkpoint(self) -> None:
        self._redis.delete(_CHECKPOINT_PREFIX + self.id)

    def hand_over(self, checkpoint: Any, percent: float, description: str, **extra: Any) -> NoReturn:
        """Leave the job to the next worker: the checkpoint saved, a waiting state that keeps
        its percent (nobody owes it a heartbeat), and the task queued again under its id.

        Raises Celery's ``Ignore``, so nothing more is stored for this run."""
        from celery.exceptions import Ignore

        task, request = self.task, self.task.request
        self.save_checkpoint(checkpoint)
        task.update_state(task_id=self.id, state=WAITING_STATE, meta=progress_meta(percent, description, **extra))
        task.apply_async(args=request.args, kwargs=request.kwargs, task_id=self.id, add_to_parent=False)
        logger.info("Handed %s on at %d%%: the worker is stopping", self.id, percent, extra={"task_id": self.id})
        raise Ignore()

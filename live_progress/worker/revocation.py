"""Cancels that hold on every worker, including one started after the cancel.

Celery keeps revokes in each worker's memory: a worker that was not running when a task was
revoked (or that restarted since) would run it. The web records a task it cancels before
any worker executes it as REVOKED in the result backend; this request class reads that
before the task goes to the pool and, when the task was cancelled, hands it to Celery's
own revoked-task handling (discarded, acknowledged, REVOKED kept).
"""

from __future__ import annotations

import logging
from typing import Any

from billiard.exceptions import WorkerLostError
from celery import Task, states
from celery.worker.request import Request

from live_progress.worker._celery_seams import request_done, revoke_here, revoked_here

logger = logging.getLogger(__name__)


class DurableRevokeRequest(Request):
    """Also: a task whose pool process died (the OOM killer's usual pick, a crashing decoder) is
    taken over at once (live_progress/takeover.py) rather than failed with Celery's WorkerLostError."""

    # Celery asks ``revoked()`` just before it hands the task to the pool (and its per-task
    # request class replaces ``execute_using_pool``, so this is the one place to ask).
    _read_stored_state = False

    def revoked(self) -> bool:
        if not self._read_stored_state and not revoked_here(self.id):
            self._read_stored_state = True
            if _stored_state(self.task, self.id) == states.REVOKED:
                revoke_here(self.id)
        return bool(super().revoked())

    def on_failure(self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False) -> Any:
        exc = exc_info.exception
        exc = getattr(exc, "exc", exc)  # billiard's ExceptionWithTraceback wraps it
        if isinstance(exc, WorkerLostError) and not revoked_here(self.id):
            from live_progress.worker.attempts import take_over_dead

            try:
                if take_over_dead(self.task.app, self.id):
                    request_done(self)
                    return None
            except Exception:  # noqa: BLE001 - then Celery records the failure, as it would
                logger.warning("Could not take %s over after its pool process died", self.id, exc_info=True)
        return super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)


def _stored_state(task: Task, task_id: str) -> str | None:
    try:
        return str(task.backend.get_state(task_id))
    except Exception as exc:  # noqa: BLE001 - the revoke broadcast still reaches running workers
        logger.warning("Cannot read the state of %s before running it: %s", task_id, exc)
        return None


class DurableRevokeTask(Task):
    """The base of this worker's tasks."""

    Request = DurableRevokeRequest

"""Cancels that hold on every worker, including one started after the cancel.

Celery keeps revokes in each worker's memory: a worker that was not running when a task was
revoked (or that restarted since) would run it. The web records a task it cancels before
any worker executes it as REVOKED in the result backend; this request class reads that
before the task goes to the pool and, when the task was cancelled, hands it to Celery's
own revoked-task handling (discarded, acknowledged, REVOKED kept).
"""

from __future__ import annotations

import logging

from celery import Task, states
from celery.worker.request import Request

from live_progress.worker._celery_seams import revoke_here, revoked_here

logger = logging.getLogger(__name__)


class DurableRevokeRequest(Request):
    # Celery asks ``revoked()`` just before it hands the task to the pool (and its per-task
    # request class replaces ``execute_using_pool``, so this is the one place to ask).
    _read_stored_state = False

    def revoked(self) -> bool:
        if not self._read_stored_state and not revoked_here(self.id):
            self._read_stored_state = True
            if _stored_state(self.task, self.id) == states.REVOKED:
                revoke_here(self.id)
        return bool(super().revoked())


def _stored_state(task: Task, task_id: str) -> str | None:
    try:
        return str(task.backend.get_state(task_id))
    except Exception as exc:  # noqa: BLE001 - the revoke broadcast still reaches running workers
        logger.warning("Cannot read the state of %s before running it: %s", task_id, exc)
        return None


class DurableRevokeTask(Task):
    """The base of this worker's tasks."""

    Request = DurableRevokeRequest

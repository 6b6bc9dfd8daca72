"""The one place the worker reads ``celery.worker.state``, which Celery calls internal.

Inside a worker, Celery has no public way to revoke a task so that ``Request.revoked()`` (of
the documented ``Task.Request`` hook) discards it as it does a broadcast revoke, nor to list
the requests this worker is executing with the pool process of each (``control.inspect()``
asks over the broker, which a worker in its shutdown does not answer itself). Celery's worker
keeps both in that module's ``revoked`` and ``active_requests``: revocation.py and stopping.py
use them only through here, and tests/worker/test_celery_seams.py checks that Celery still
behaves as these functions say, so an upgrade that changes it fails there first.
"""

from __future__ import annotations

from celery.worker import state as _state
from celery.worker.request import Request


def revoke_here(task_id: str) -> None:
    """Revoke ``task_id`` in this worker, as a revoke broadcast that reached it would."""
    _state.revoked.add(task_id)


def revoked_here(task_id: str) -> bool:
    """Whether this worker holds a revoke of ``task_id``."""
    return task_id in _state.revoked


def executing_requests() -> list[Request]:
    """The requests this worker's pool has accepted and not finished, each with its
    ``worker_pid``."""
    return list(_state.active_requests)

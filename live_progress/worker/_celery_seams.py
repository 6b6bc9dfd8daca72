"""The one place the worker reads ``celery.worker.state``, which Celery calls internal, or
replaces the app's result backend.

Inside a worker, Celery has no public way to revoke a task so that ``Request.revoked()`` (of
the documented ``Task.Request`` hook) discards it as it does a broadcast revoke, nor to list
the requests this worker is executing with the pool process of each (``control.inspect()``
asks over the broker, which a worker in its shutdown does not answer itself). Celery's worker
keeps both in that module's ``revoked`` and ``active_requests``: revocation.py and stopping.py
use them only through here. Nor has it a public way to give an app a result backend class of
one's own that keeps the URL it is configured with (``use_backend_class``, for attempts.py).
tests/worker/test_celery_seams.py checks that Celery still behaves as these functions say,
so an upgrade that changes it fails there first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.app import backends as _backends
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


def use_backend_class(celery: Celery, make: Callable[[type], type]) -> None:
    """From now on, ``celery.backend`` (in every thread) is an instance of ``make(cls)``, where
    ``cls`` is the class its ``result_backend`` URL names, built from that URL."""
    base, url = _backends.by_url(celery.conf.result_backend, celery.loader)
    made = make(base)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["url"] = kwargs.get("url") or url
        base.__init__(self, *args, **kwargs)

    # Celery builds the backend from backend_cls with no URL: the class supplies it.
    celery.backend_cls = type(made.__name__, (made,), {"__init__": __init__})
    # Backends built before now (per thread, or shared when thread-safe) are forgotten.
    celery._backend_cache = None
    vars(celery._local).pop("backend", None)


def request_done(request: Request) -> None:
    """Tell this worker ``request`` is over (what ``Request.on_failure`` does first), so that it
    takes the next task, when the failure is handled otherwise."""
    _state.task_ready(request)

"""What live_progress/worker/_celery_seams.py relies on in celery.worker.state, checked on Celery's
own Request: if an upgrade changes it, these fail before a cancel or a hand-over does.

Requests are built from Celery's test message (celery.contrib.testing.mocks) for an app with
an in-memory broker and result backend; no worker runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from time import monotonic

import pytest
from celery import Celery, states, uuid
from celery.contrib.testing.mocks import TaskMessage
from celery.worker.request import Request

from live_progress.worker._celery_seams import executing_requests, request_done, revoke_here, revoked_here
from live_progress.worker.revocation import DurableRevokeRequest, DurableRevokeTask


@pytest.fixture
def app() -> Iterator[Celery]:
    app = Celery("seams", broker="memory://", backend="cache+memory://", set_as_current=False)

    @app.task(name="seams.noop", base=DurableRevokeTask, shared=False)
    def noop() -> None:
        pass

    yield app
    app.close()


def request(app: Celery, cls: type[Request] = Request) -> Request:
    return cls(TaskMessage("seams.noop", id=uuid()), app=app, task=app.tasks["seams.noop"])


def test_a_task_revoked_here_is_discarded_by_celerys_request(app: Celery) -> None:
    req = request(app)
    assert not revoked_here(req.id) and not req.revoked()
    revoke_here(req.id)
    assert revoked_here(req.id)
    assert req.revoked(), "Celery's Request.revoked() no longer reads the set revoke_here() adds to"
    assert app.backend.get_state(req.id) == states.REVOKED


def test_a_request_is_executing_from_its_acceptance_to_its_end(app: Celery) -> None:
    req = request(app)
    assert req not in executing_requests()
    req.on_accepted(pid=4242, time_accepted=monotonic())
    assert req in executing_requests(), "Celery no longer lists an accepted request among the active ones"
    assert req.worker_pid == 4242
    req.on_success((False, None, 0.0))
    assert req not in executing_requests()


def test_a_cancel_stored_before_any_worker_ran_the_task_revokes_it(app: Celery) -> None:
    req = request(app, DurableRevokeRequest)
    app.backend.mark_as_revoked(req.id, "cancelled")
    assert req.revoked() and revoked_here(req.id)
    other = request(app, DurableRevokeRequest)
    assert not other.revoked() and not revoked_here(other.id)


def test_a_request_done_here_leaves_the_requests_this_worker_is_executing(app: Celery) -> None:
    from celery.worker import state

    req = request(app)
    state.task_accepted(req)
    assert req in executing_requests()
    request_done(req)
    assert req not in executing_requests()

"""The progress contract shared by the web service and the worker.

The shape of progress ``meta``, the Redis keys both sides use beside Celery's, and how a
stored Celery state maps to what a client sees. It knows no plugin. Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from live_progress.redis_url import is_sentinel

WORKER_LOST = "worker lost"
HEARTBEAT_PREFIX = "live-progress:alive:"
# A task that hands parts of its work to other tasks lists their ids in this Redis set
# (in the result backend), so that cancelling it cancels them too.
CHILDREN_PREFIX = "live-progress:children:"
# Live results: a capped Redis Stream per task that its results are appended to, each also
# published on the channel of the same name ("<stream entry id> <json>"), kept as long as
# the task's result.
SEGMENTS_PREFIX = "live-progress:segments:"
# Each execution of a task by this project's worker: a Redis hash (live_progress/takeover.py)
# with what it takes to send the task again, the token of the execution that holds it, and
# how many times a worker died on it; and the set of task ids executing now.
RUN_PREFIX = "live-progress:run:"
# Where a task's checkpoint is kept (live_progress.Job) until the task's state is final.
CHECKPOINT_PREFIX = "live-progress:resume:"
RUNNING_KEY = "live-progress:running"
PROGRESS_STATE = "PROGRESS"
# A task handed back to the queue with its progress (a worker stopped mid-batch): no worker
# executes it until one takes it again, so nobody owes it a heartbeat.
WAITING_STATE = "WAITING"

EventKind = Literal["status", "progress", "result", "error", "segment"]
Outcome = Literal["success", "failure", "cancelled"]

_FINAL_KINDS = frozenset({"result", "error"})
# Keys Celery itself puts in a STARTED state's meta; they are not the task's progress.
_STARTED_META_KEYS = frozenset({"pid", "hostname"})


def celery_config(
    broker_url: str, result_backend: str, result_expires: int, sentinel_master: str | None = None
) -> dict[str, Any]:
    """Celery settings both sides must agree on (serialisation, where results live).

    A ``sentinel://`` broker or backend (live_progress/redis_url.py) is Celery's and kombu's own Sentinel
    support, told the master's name. Its connections to the sentinels time out (Celery's
    backend gives them no timeout otherwise, so one sentinel that hangs would hang it)."""
    sentinel = {
        "master_name": sentinel_master,
        "sentinel_kwargs": {"socket_connect_timeout": 3, "socket_timeout": 3},
    }
    broker_options: dict[str, Any] = {"socket_connect_timeout": 3}
    config: dict[str, Any] = {
        "broker_url": broker_url,
        "result_backend": result_backend,
        "result_expires": result_expires,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": broker_options,
        "redis_socket_connect_timeout": 3,
    }
    if is_sentinel(broker_url):
        broker_options.update(sentinel)
    if is_sentinel(result_backend):
        config["result_backend_transport_options"] = dict(sentinel)
        # Celery's Redis backend retries the SET of a state but not the GET it reads first (to
        # keep a SUCCESS): a job's result stored while the primary fails over would be lost.
        # Retried across a failover instead: up to about a minute, a second apart at most.
        config["result_backend_always_retry"] = True
        config["result_backend_max_retries"] = 120
        config["result_backend_max_sleep_between_retries_ms"] = 1_000
    return config


def progress_meta(percent: float, description: str, **extra: Any) -> dict[str, Any]:
    """The ``meta`` of ``update_state(state="PROGRESS", meta=...)``."""
    if not 0 <= percent <= 100:
        raise ValueError(f"percent has value {percent!r}; it must lie in 0..100")
    return {"percent": percent, "description": description, **extra}


@dataclass(frozen=True, slots=True)
class TaskView:
    """What a client is told about a task: an event kind and the polling endpoint's body."""

    kind: EventKind
    body: dict[str, Any]
    # A task a worker is executing keeps a heartbeat; without one its worker is gone.
    executing: bool = False
    # How a final view ended: for the metrics, which must not read it out of a message.
    outcome: Outcome | None = None
    # Handed back to the queue (WAITING): the worker that takes it may not have written yet.
    waiting: bool = False

    @property
    def final(self) -> bool:
        return self.kind in _FINAL_KINDS


def _text(title: str, value: str) -> dict[str, Any]:
    return {"root": {"output_type": "text", "title": title, "value": value, "subtitle": None}}


PENDING_VIEW = TaskView("status", _text("status", "Task status: PENDING"))
CANCELLED_VIEW = TaskView("error", _text("error", "Task cancelled"), outcome="cancelled")


def heartbeat_key(task_id: str) -> str:
    return HEARTBEAT_PREFIX + task_id


def children_key(task_id: str) -> str:
    return CHILDREN_PREFIX + task_id


def segments_key(task_id: str) -> str:
    return SEGMENTS_PREFIX + task_id


def run_key(task_id: str) -> str:
    return RUN_PREFIX + task_id


def checkpoint_key(task_id: str) -> str:
    return CHECKPOINT_PREFIX + task_id


def failed_view(reason: str) -> TaskView:
    return TaskView("error", _text("error", f"Task failed: {reason}"), outcome="failure")


def view_task(meta: Mapping[str, Any] | None) -> TaskView:
    """Map the meta Celery stores for a task (or ``None``: nothing stored) to a client view."""
    if meta is None:
        return PENDING_VIEW
    state = meta.get("status")
    result = meta.get("result")
    if state == "PENDING":
        return PENDING_VIEW
    if state == "SUCCESS":
        return TaskView("result", {"root": result}, outcome="success")
    if state == "FAILURE":
        return failed_view(failure_reason(result))
    if state == "REVOKED":
        return CANCELLED_VIEW
    # STARTED, PROGRESS, RETRY and any custom state: the task is running.
    info = result if isinstance(result, Mapping) else {}
    if state == "STARTED":
        info = {k: v for k, v in info.items() if k not in _STARTED_META_KEYS}
    elif state == "RETRY":
        info = {"description": f"Retrying: {failure_reason(result)}"}
    description = info.get("description")
    root = {
        "title": "progress",
        "percent": wire_percent(info.get("percent", 0)),
        "description": "" if description is None else str(description),
    }
    # Extra fields (current, total, eta_seconds, ...) pass through to clients.
    root.update((k, v) for k, v in info.items() if k not in root)
    # RETRY and WAITING wait in the broker for a worker: none is executing them yet.
    executing = state not in ("RETRY", WAITING_STATE)
    return TaskView("progress", {"root": root}, executing=executing, waiting=state == WAITING_STATE)


def wire_percent(value: Any) -> int:
    """An integer 0..100 for the wire: floats round down, junk becomes 0."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    if math.isnan(number):
        return 0
    return math.floor(max(0.0, min(100.0, number)))


def failure_reason(result: Any) -> str:
    """A readable reason from the exception Celery stored as a failed task's result."""
    if isinstance(result, Mapping) and "exc_type" in result:
        message = result.get("exc_message")
        if result["exc_type"] == "WorkerLostError":
            # Celery's own says which signal; ours (the last takeover refused) says where.
            detail = " ".join(str(part) for part in message) if isinstance(message, (list, tuple)) else ""
            return detail if detail.startswith(WORKER_LOST) else WORKER_LOST
        if isinstance(message, (list, tuple)):
            message = " ".join(str(part) for part in message)
        return str(message) if message else str(result["exc_type"])
    return str(result) if result is not None else "unknown error"

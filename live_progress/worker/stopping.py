"""A worker told to stop (SIGTERM, a deploy) ends its batches at the next segment's end and
hands them on (live_progress/plugins/audio/worker/checkpoint.py), instead of making the deploy wait for whole batches.

SIGTERM reaches a pool process directly when the whole process group is signalled (systemd,
honcho), or not at all when only the main process is (a container runtime): the main
process, as its warm shutdown begins, passes it on to the pool processes executing this
app's tasks. In a pool process, while such a task runs, SIGTERM only raises a flag that the
task reads between segments; at any other time billiard's own handler applies.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_shutting_down

from live_progress.worker._celery_seams import executing_requests

logger = logging.getLogger(__name__)


class StopFlag:
    def __init__(self) -> None:
        self._raised = threading.Event()
        self._previous: Any = None
        self._in_pool_process = False

    def in_pool_process(self) -> None:
        self._in_pool_process = True

    def requested(self) -> bool:
        return self._raised.is_set()

    def arm(self) -> None:
        """From now until ``disarm``, SIGTERM raises the flag (pool processes only: in a
        worker without a pool, SIGTERM must stay the worker's own shutdown)."""
        if not self._in_pool_process or threading.current_thread() is not threading.main_thread():
            return
        self._raised.clear()
        self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)

    def disarm(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self._raised.set()


# The flags of the apps in this process (one, but for tests): SIGTERM is the process's.
_FLAGS: list[StopFlag] = []


def stop_requested() -> bool:
    """Whether this process was told to stop while a task of an app of its ran."""
    return any(flag.requested() for flag in _FLAGS)


def install_stop_flag(celery: Celery) -> StopFlag:
    """Connect the flag to this app's tasks and to the worker's shutdown (once per app)."""
    flag = StopFlag()
    _FLAGS.append(flag)

    def in_pool_process(**_: Any) -> None:
        flag.in_pool_process()

    def on_prerun(sender: Any = None, **_: Any) -> None:
        if sender is not None and sender.app is celery:
            flag.arm()

    def on_postrun(sender: Any = None, **_: Any) -> None:
        if sender is not None and sender.app is celery:
            flag.disarm()

    def pass_on(**_: Any) -> None:
        for request in executing_requests():
            if request.task.app is celery and request.worker_pid:
                logger.info("Stopping %s[%s] to hand it on", request.name, request.id)
                os.kill(request.worker_pid, signal.SIGTERM)

    uid = id(celery)
    worker_process_init.connect(in_pool_process, weak=False, dispatch_uid=f"stop-pool-{uid}")
    task_prerun.connect(on_prerun, weak=False, dispatch_uid=f"stop-prerun-{uid}")
    task_postrun.connect(on_postrun, weak=False, dispatch_uid=f"stop-postrun-{uid}")
    worker_shutting_down.connect(pass_on, weak=False, dispatch_uid=f"stop-pass-on-{uid}")
    return flag

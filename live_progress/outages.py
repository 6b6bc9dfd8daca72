"""Riding out a Redis that restarts or fails over: a worker's write tried again while Redis does
not answer (refused, closed, or still loading its data), for up to a minute, as Celery's backend
retries a task's state (``result_backend_always_retry``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

RIDE_OUT_SECONDS = 60.0


def through_outages(call: Callable[[], T], what: str, seconds: float = RIDE_OUT_SECONDS) -> T:
    """``call()``, tried again while Redis does not answer, for up to ``seconds``; ``what`` names
    it in the log. Only for what may run twice: a restart is graceful (a command Redis took is
    answered before it stops), but a command whose answer a network lost may have run."""
    from redis.exceptions import ConnectionError, TimeoutError

    deadline = time.monotonic() + seconds
    pause = 0.1
    while True:
        try:
            return call()
        except (ConnectionError, TimeoutError):  # BusyLoadingError, Redis loading its data, is one
            if time.monotonic() + pause > deadline:
                raise
            logger.warning("Could not %s: Redis does not answer; retrying in %.1f s", what, pause)
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

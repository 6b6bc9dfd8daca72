"""Ending the streams of tasks whose worker died: nobody publishes for them any more."""

from __future__ import annotations

import asyncio
import logging

from app.errors import ServiceUnavailable
from app.hub import StateHub
from app.store import TaskStore

logger = logging.getLogger(__name__)


async def check_liveness(hub: StateHub, store: TaskStore, interval: float) -> None:
    """Every ``interval`` seconds, read the watched tasks' states and heartbeats in one round
    trip; reading a running task without a heartbeat records it as lost with its worker,
    and the stored failure reaches every stream through the subscription."""
    while True:
        await asyncio.sleep(interval)
        task_ids = hub.watched_task_ids()
        if not task_ids:
            continue
        try:
            await store.read_events(task_ids)
        except ServiceUnavailable as exc:
            logger.debug("Liveness check skipped: %s", exc)  # the hub handles outages

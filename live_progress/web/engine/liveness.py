"""Deciding that a task lost its worker: the one place that does (reading a task never does).

A task is alive while its state keeps changing, whoever writes it: this project's worker, a
worker that runs none of its code, an older deploy. A state written reaches the hub as a
message, so the hub knows when each followed task was last heard of. The heartbeat that this
project's worker keeps covers its long silent stretches (loading the model, a long segment).
Lost means silence: no state published and no heartbeat for ``lost_after`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from live_progress.web.engine.hub import StateHub
from live_progress.web.engine.store import TaskStore
from live_progress.web.errors import ServiceUnavailable

logger = logging.getLogger(__name__)


class Liveness:
    def __init__(
        self, hub: StateHub, store: TaskStore, mark_lost: Callable[[str], Awaitable[None]], lost_after: float
    ) -> None:
        if lost_after <= 0:
            raise ValueError(f"lost_after has value {lost_after!r}; it must be > 0")
        self._hub = hub
        self._store = store
        self._mark_lost = mark_lost
        self.lost_after = lost_after

    async def check(self) -> list[str]:
        """Record as lost every followed task that a worker was executing and that has been
        silent for ``lost_after``; the stored failure reaches every stream through the
        subscription. Returns their ids. Costs no Redis read while every task is heard from."""
        quiet = self._hub.quiet_tasks(self.lost_after)
        if not quiet:
            return []
        states = await self._store.read_with_heartbeats(quiet)
        lost = [
            task_id
            for task_id, (event, beating) in zip(quiet, states, strict=True)
            # Queued, waiting to be retried or resumed, or finished: nobody owes a sign of life.
            if event.executing and not beating
        ]
        for task_id in lost:
            logger.warning(
                "Task %s: no state and no heartbeat for %.0f s; its worker is lost",
                task_id,
                self.lost_after,
                extra={"task_id": task_id},
            )
            await self._mark_lost(task_id)
        return lost

    async def run(self) -> None:
        """Check every quarter of ``lost_after`` until cancelled."""
        while True:
            await asyncio.sleep(self.lost_after / 4)
            try:
                await self.check()
            except ServiceUnavailable as exc:
                logger.debug("Liveness check skipped: %s", exc)  # the hub handles outages

"""Noticing that a task lost its worker, in the web process (reading a task never does).

A task is alive while its state keeps changing, whoever writes it: this project's worker, a
worker that runs none of its code, an older deploy. A state written reaches the hub as a
message, so the hub knows when each followed task was last heard of. The heartbeat that this
project's worker keeps covers its long silent stretches (loading the model, a long segment).
Lost means silence: no state published and no heartbeat for ``lost_after`` seconds. What
happens then is ``recover``'s: the task is taken over (live_progress/takeover.py; the workers
look too, so a job nobody watches is resumed as well).
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
        self, hub: StateHub, store: TaskStore, recover: Callable[[str], Awaitable[bool]], lost_after: float
    ) -> None:
        if lost_after <= 0:
            raise ValueError(f"lost_after has value {lost_after!r}; it must be > 0")
        self._hub = hub
        self._store = store
        self._recover = recover
        self.lost_after = lost_after

    async def check(self) -> list[str]:
        """Recover every followed task that a worker was executing and that has been silent
        for ``lost_after``; the state that says so reaches every stream through the
        subscription. Returns their ids. Costs no Redis read while every task is heard from."""
        quiet = self._hub.quiet_tasks(self.lost_after)
        if not quiet:
            return []
        states = await self._store.read_with_heartbeats(quiet)
        # A state read here may have been written a moment ago, after the silence was judged:
        # once every message published before the read has reached the hub, the task must
        # still be silent (a worker that just started a queued task is not lost).
        await self._hub.sync()
        still_quiet = set(self._hub.quiet_tasks(self.lost_after))
        lost = [
            task_id
            for task_id, (event, beating) in zip(quiet, states, strict=True)
            # Queued, waiting to be retried, or finished: nobody owes a sign of life. A task
            # waiting to be resumed may have been taken by a worker that died before its first
            # word: the claim (live_progress/takeover.py) tells.
            if (event.executing or event.waiting) and not beating and task_id in still_quiet
        ]
        recovered = []
        for task_id in lost:
            if await self._recover(task_id):
                logger.warning(
                    "Task %s: no state and no heartbeat for %.0f s; its worker is lost",
                    task_id,
                    self.lost_after,
                    extra={"task_id": task_id},
                )
                recovered.append(task_id)
        return recovered

    async def run(self) -> None:
        """Check every quarter of ``lost_after`` until cancelled."""
        while True:
            await asyncio.sleep(self.lost_after / 4)
            try:
                await self.check()
            except ServiceUnavailable as exc:
                logger.debug("Liveness check skipped: %s", exc)  # the hub handles outages
            except Exception:  # noqa: BLE001 - one bad round must not end the checks for good
                logger.exception("Liveness check failed")

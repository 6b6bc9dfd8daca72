"""Sending and cancelling Celery tasks. Celery's calls block, so they run in threads."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from celery import Celery
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from live_progress.contract import celery_config, children_key
from live_progress.takeover import take_over
from live_progress.web.errors import ServiceUnavailable
from live_progress.web.settings import Settings

T = TypeVar("T")


def create_celery_client(settings: Settings) -> Celery:
    celery = Celery("web")
    celery.conf.update(
        celery_config(
            settings.broker_url, settings.result_backend, settings.result_expires, settings.redis_sentinel_master
        ),
        # Fail fast (a 503) rather than hold the request while the broker is away.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
    )
    return celery


class TaskBroker:
    def __init__(self, celery: Celery, max_threads: int = 8) -> None:
        self._celery = celery
        self._limiter = anyio.CapacityLimiter(max_threads)

    @property
    def result_key_prefix(self) -> bytes:
        """What Celery's result backend puts before a task id in keys and channel names."""
        return bytes(self._celery.backend.task_keyprefix)

    async def send(self, name: str, task_id: str, kwargs: dict[str, Any]) -> None:
        await self._blocking(self._celery.send_task, name, task_id=task_id, kwargs=kwargs)

    async def cancel(self, task_id: str, executing: bool) -> None:
        """Revoke the task and the tasks it lists as its children (``contract.children_key``);
        a worker running one kills the process running it and records REVOKED.

        A task no worker is executing (queued, or waiting for a worker to resume it) is
        marked REVOKED here and now: its watchers hear at once, and every worker, even one
        started later, reads it before running the task (live_progress/worker/revocation.py). So are the
        children, whose states nobody watches.
        """
        await self._blocking(self._revoke, [task_id])
        # Read after the revoke, which leaves the task little time to hand out more parts
        # (it lists each before sending it); one that slips through finds the task revoked.
        children = await self._blocking(self._children, task_id)
        if children:
            await self._blocking(self._revoke, children)
        for cancelled in children if executing else [task_id, *children]:
            await self._blocking(self._celery.backend.mark_as_revoked, cancelled, "cancelled")

    def _revoke(self, task_ids: list[str]) -> None:
        # SIGKILL, not Celery's default SIGTERM: the pool process turns SIGTERM into a
        # SystemExit wherever Python happens to be, and one raised inside a __del__ is
        # swallowed, so the transcription carried on and overwrote REVOKED with SUCCESS.
        self._celery.control.revoke(task_ids, terminate=True, signal="SIGKILL")

    def _children(self, task_id: str) -> list[str]:
        return sorted(child.decode() for child in self._celery.backend.client.smembers(children_key(task_id)))

    async def take_over(self, task_id: str, max_attempts: int) -> bool:
        """A task silent for WORKER_LOST_AFTER: if its worker is lost, send the task again for its
        next attempt, or record it failed after ``max_attempts`` deaths (live_progress/takeover.py).
        A task that a worker running none of this project's code (it has no run) was executing
        is recorded failed with its worker, unless it has ended meanwhile.
        Returns whether the task was found lost."""
        claim = await self._blocking(take_over, self._celery, task_id, max_attempts, fail_foreign=True)
        return claim.outcome in ("requeue", "failed")

    async def _blocking(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await anyio.to_thread.run_sync(functools.partial(call, *args, **kwargs), limiter=self._limiter)
        except (OperationalError, RedisError, OSError) as exc:
            raise ServiceUnavailable(f"The task broker is unreachable: {exc}") from exc

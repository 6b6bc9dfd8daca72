"""The worker's Celery app, built by ``create_worker_app`` (live_progress/worker/app.py is what ``celery -A`` runs)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from celery import Celery
from celery.signals import celeryd_after_setup, setup_logging

from live_progress.contract import celery_config
from live_progress.cores import pool_settled
from live_progress.job import require_redis_backend
from live_progress.logs import configure_logging
from live_progress.plugin import Plugin
from live_progress.plugins import load_plugins, worker_half
from live_progress.worker.attempts import install_attempts
from live_progress.worker.metrics import install_metrics
from live_progress.worker.revocation import DurableRevokeTask
from live_progress.worker.settings import WorkerSettings
from live_progress.worker.stopping import install_stop_flag


def create_worker_app(settings: WorkerSettings | None = None, plugins: Sequence[Plugin] | None = None) -> Celery:
    """The worker's app with every plugin's tasks; ``plugins`` default to the installed ones
    that PLUGINS lets in."""
    settings = settings or WorkerSettings.load()
    celery = Celery("worker", task_cls=DurableRevokeTask)
    celery.conf.update(
        celery_config(
            settings.broker_url, settings.result_backend, settings.result_expires, settings.redis_sentinel_master
        ),
        # A transcription is long: a busy worker reserves nothing, so queued tasks go to free
        # workers, and a task cancelled while queued is still in Redis, not in a worker's hands.
        worker_prefetch_multiplier=1,
        worker_disable_prefetch=True,
        # Tasks report their own start ("Preparing …"); Celery's STARTED state would also
        # overwrite the progress of a batch that another worker resumes with percent 0.
        task_track_started=False,
    )
    install_worker(celery, settings, plugins)
    if settings.log_format == "json":
        # Connected, this signal makes Celery leave logging to us.
        level = logging.getLevelName(settings.log_level.upper())
        setup_logging.connect(lambda **_: configure_logging("json", level), weak=False, dispatch_uid="json-logs")
    return celery


def install_worker(
    celery: Celery, settings: WorkerSettings | None = None, plugins: Sequence[Plugin] | None = None
) -> None:
    """Make ``celery`` (a project's own app, or ours) a worker of this service: every plugin's
    tasks, a heartbeat per running task, the takeover of tasks whose worker was lost (and fenced
    writes, so a paused worker that wakes writes nothing), cancels that hold on any worker, the
    SIGTERM hand-over and the worker's metrics. Call it before the app defines a task of its own: durable cancels
    come with the app's task class. Its result backend must be Redis."""
    settings = settings or WorkerSettings.load()
    # A worker's states (its result above all) outlast a Redis restart or failover, as its own
    # writes do (live_progress/outages.py): Celery retries them for up to about a minute. (Not
    # the web's reads: a web that cannot read answers 503 at once.)
    celery.conf.update(
        result_backend_always_retry=True,
        result_backend_max_retries=120,
        result_backend_max_sleep_between_retries_ms=1_000,
    )
    require_redis_backend(celery)
    if "Task" in vars(celery) and not issubclass(celery.Task, DurableRevokeTask):
        raise ValueError(
            f"The Celery app {celery.main!r} made its task class before install_worker: create it with "
            "Celery(..., task_cls='live_progress.worker.revocation:DurableRevokeTask'), or call "
            "install_worker before defining a task"
        )
    celery.task_cls = DurableRevokeTask
    install_stop_flag(celery)
    install_attempts(celery, settings.worker_lost_after, settings.max_task_attempts, settings.result_expires)
    for plugin in load_plugins(settings.plugins) if plugins is None else plugins:
        if plugin.worker is not None:
            register = worker_half(plugin)
            register(celery)  # type: ignore[operator]
    install_metrics(celery, settings.metrics_port)

    def settled(sender: Any = None, instance: Any = None, **_: Any) -> None:
        # Before the pool starts: its processes, forked after, know how many they are.
        if instance is not None and instance.app is celery:
            pool_settled(int(instance.concurrency))

    celeryd_after_setup.connect(settled, weak=False, dispatch_uid=f"pool-settled-{id(celery)}")

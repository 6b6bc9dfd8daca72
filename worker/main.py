"""The worker's Celery app: ``celery -A worker.main worker``."""

from __future__ import annotations

from celery import Celery
from celery.signals import setup_logging

from contract import celery_config
from logs import configure_logging
from worker.heartbeat import install_heartbeats
from worker.metrics import install_metrics
from worker.settings import WorkerSettings
from worker.tasks import register_tasks


def create_worker_app(settings: WorkerSettings | None = None) -> Celery:
    settings = settings or WorkerSettings.from_environ()
    celery = Celery("worker")
    celery.conf.update(
        celery_config(settings.broker_url, settings.result_backend, settings.result_expires),
        # A transcription is long: take one task at a time so others go to free workers.
        worker_prefetch_multiplier=1,
    )
    register_tasks(celery, settings)
    install_heartbeats(celery, settings.worker_lost_after)
    install_metrics(celery, settings.metrics_port)
    if settings.log_format == "json":
        # Connected, this signal makes Celery leave logging to us.
        setup_logging.connect(lambda **_: configure_logging("json"), weak=False, dispatch_uid="json-logs")
    return celery


# The Celery command line looks for a module-level app.
app = create_worker_app()

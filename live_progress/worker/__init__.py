"""The Celery worker: runs every plugin's tasks, with heartbeats, durable cancels, the SIGTERM
hand-over and metrics.

``create_worker_app(settings, plugins)`` is the Celery app (``celery -A live_progress.worker.app``
runs it); the modules below it are the engine's own.
"""

from live_progress.worker.main import create_worker_app
from live_progress.worker.settings import WorkerSettings

__all__ = ["WorkerSettings", "create_worker_app"]

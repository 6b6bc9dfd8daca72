"""The Celery worker: runs every plugin's tasks, with heartbeats, durable cancels, the SIGTERM
hand-over and metrics.

``create_worker_app(settings, plugins)`` is the Celery app (``celery -A live_progress.worker.app``
runs it); ``install_worker(app)`` makes a project's own Celery app one; the modules below are
the engine's own.
"""

from live_progress.worker.main import create_worker_app, install_worker
from live_progress.worker.settings import WorkerSettings

__all__ = ["WorkerSettings", "create_worker_app", "install_worker"]

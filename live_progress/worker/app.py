"""The Celery command line's target: ``celery -A live_progress.worker.app worker`` (the Procfile's worker line).

Celery's ``-A`` imports a module and takes the Celery instance in it; it cannot call a
factory. This module is only that target: importing it builds the worker's app from the
environment (settings, signals, metrics). Nothing else imports it; code and tests call
``worker.main.create_worker_app(settings)``.
"""

from __future__ import annotations

from live_progress.worker.main import create_worker_app

app = create_worker_app()

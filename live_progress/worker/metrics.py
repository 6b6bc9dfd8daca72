"""Prometheus metrics of a worker: tasks by name and final state (plugins add their own).

Tasks run in pool processes, so the figures use prometheus_client's multiprocess mode: each
process writes to files in a shared folder, and the worker's main process serves them all
on WORKER_METRICS_PORT.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import task_postrun, worker_init, worker_shutdown

logger = logging.getLogger(__name__)

# prometheus_client's multiprocess mode is switched on by this variable alone, read when the
# library is first imported; the pool processes forked later inherit it.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def multiprocess_folder() -> Iterator[Path]:
    """The folder where this worker's processes write their figures, named in MULTIPROC_DIR.

    An operator's own folder is emptied of the figures a worker before left there (this runs
    before the pool starts: no process of this worker has written yet), so they do not add
    up with this one's; otherwise one is made, and on leaving it is removed and the variable
    unset again.
    """
    given = os.environ.get(MULTIPROC_DIR)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        yield folder
        return
    folder = tempfile.mkdtemp(prefix="live-progress-worker-metrics-")
    os.environ[MULTIPROC_DIR] = folder
    try:
        yield Path(folder)
    finally:
        os.environ.pop(MULTIPROC_DIR, None)
        shutil.rmtree(folder, ignore_errors=True)


def install_metrics(celery: Celery, port: int) -> None:
    """Serve this worker's metrics on ``port`` (0: not at all) from when the worker starts
    (worker_init, in its main process, before the pool forks) until it shuts down."""
    if not port:
        return
    folder = contextlib.ExitStack()
    metrics: dict[str, Any] = {}

    def serve(**_: Any) -> None:
        folder.enter_context(multiprocess_folder())
        from prometheus_client import CollectorRegistry, Counter, multiprocess, start_http_server

        metrics["tasks"] = Counter(
            "live_progress_worker_tasks", "Tasks this worker ran, by name and final state", ["task", "state"]
        )
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        try:
            start_http_server(port, registry=registry)
            logger.info("Worker metrics on port %d", port)
        except OSError as exc:  # another worker on this machine has the port
            logger.warning("Worker metrics not served on port %d: %s", port, exc)

    def on_postrun(sender: Any = None, task_id: str | None = None, state: str | None = None, **_: Any) -> None:
        if task_id and sender is not None and sender.app is celery and metrics:
            metrics["tasks"].labels(sender.name, state or "UNKNOWN").inc()

    def stop(**_: Any) -> None:
        folder.close()

    worker_init.connect(serve, weak=False, dispatch_uid=f"metrics-serve-{id(celery)}")
    worker_shutdown.connect(stop, weak=False, dispatch_uid=f"metrics-stop-{id(celery)}")
    task_postrun.connect(on_postrun, weak=False, dispatch_uid=f"metrics-postrun-{id(celery)}")

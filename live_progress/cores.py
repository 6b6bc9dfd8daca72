"""How a worker shares the machine: the CPUs it may use, and its pool processes among them.

By default (``WORKER_CONCURRENCY=auto``) a worker runs one pool process per CPU, as Celery's
``--concurrency=auto`` counts them (the process's CPU affinity, capped by any cgroup quota), and
a plugin gives each process its share of the CPUs: the audio plugin, one CTranslate2 thread
per process, and a long recording split over all of them.
"""

from __future__ import annotations


def available_cpus() -> int:
    """The CPUs this process may use, as Celery's ``--concurrency=auto`` counts them."""
    from celery.utils.sysinfo import cpu_budget

    return cpu_budget().count


# This worker's pool processes, as Celery settled them before it started the pool (its
# --concurrency may come from the command line, not WORKER_CONCURRENCY).
_pool: int | None = None


def worker_processes() -> int:
    """The pool processes of this worker; outside a worker, what ``WORKER_CONCURRENCY`` would
    give (``available_cpus()`` for auto)."""
    if _pool is not None:
        return _pool
    from live_progress.worker.settings import WorkerSettings

    return WorkerSettings.load().processes


def pool_settled(processes: int) -> None:
    """Celery settled this worker's pool at ``processes`` (live_progress/worker/main.py tells)."""
    global _pool
    _pool = processes

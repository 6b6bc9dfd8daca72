"""Writes task states the way a Celery worker does, at a steady rate, in a process of its own.

``backend.store_result(task_id, meta, "PROGRESS")`` is exactly what ``update_state`` does:
a GET (Celery will not overwrite a SUCCESS), then SETEX and PUBLISH in one MULTI/EXEC.
The description carries ``#ts=<time.time_ns()>`` taken just before the call, so latency
runs from the write (plus the GET's round trip, a fraction of a millisecond) to the read.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event

from celery import Celery
from redis import Redis

from bench.loadgen import marked
from bench.measure import command_counts
from live_progress.contract import PROGRESS_STATE, celery_config, heartbeat_key, progress_meta

# live_progress/web/engine/store.py's private prefix: the web answers 404 for ids without it. Written here rather
# than POSTed, since a POST would need audio and would queue a real task with no worker.
ISSUED_PREFIX = "live-progress:issued:"
ENDPOINT = "/audio/transcribe"


def celery_app(redis_url: str) -> Celery:
    celery = Celery("bench-writer")
    celery.conf.update(celery_config(redis_url, redis_url, 3600))
    return celery


def issue_tasks(redis_url: str, count: int, ttl: int) -> list[str]:
    """Task ids the web will serve, each with a worker's heartbeat that outlives the run."""
    task_ids = [str(uuid.uuid4()) for _ in range(count)]
    with Redis.from_url(redis_url) as redis, redis.pipeline(transaction=False) as pipe:
        for task_id in task_ids:
            pipe.set(ISSUED_PREFIX + task_id, ENDPOINT, ex=ttl)
            pipe.set(heartbeat_key(task_id), b"1", ex=ttl)
        pipe.execute()
    return task_ids


def store_progress(celery: Celery, task_id: str, step: int, steps: int) -> None:
    meta = progress_meta(step * 100 // steps, marked(f"Step {step} of {steps}"))
    celery.backend.store_result(task_id, meta, PROGRESS_STATE)


@dataclass
class WriterHandle:
    process: multiprocessing.process.BaseProcess
    ready: Event
    go: Event
    written: Synchronized  # writes done so far

    def wait_ready(self) -> None:
        if not self.ready.wait(60):
            raise RuntimeError("The writer process did not connect to Redis within 60 s")

    def start_writing(self) -> None:
        self.wait_ready()
        self.go.set()

    def stop(self) -> None:
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def start_writer(redis_url: str, task_ids: list[str], writes_per_task: int, rate: float) -> WriterHandle:
    """A process that connects, then waits for ``start_writing()`` and writes
    ``writes_per_task`` states to every task, round robin, ``rate`` writes a second."""
    context = multiprocessing.get_context("spawn")
    ready, go = context.Event(), context.Event()
    written = context.Value("i", 0)
    process = context.Process(
        target=_write,
        args=(redis_url, task_ids, writes_per_task, rate, ready, go, written),
        name="bench-writer",
        daemon=True,
    )
    process.start()
    return WriterHandle(process, ready, go, written)


def _write(
    redis_url: str, task_ids: list[str], steps: int, rate: float, ready: Event, go: Event, written: Synchronized
) -> None:
    celery = celery_app(redis_url)
    celery.backend.client.ping()  # connected before the clock starts
    ready.set()
    if not go.wait(300):
        return
    started = time.perf_counter()
    total = len(task_ids) * steps
    for n in range(total):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        store_progress(celery, task_ids[n % len(task_ids)], n // len(task_ids) + 1, steps)
        with written.get_lock():
            written.value += 1


def commands_per_write(redis_url: str, samples: int = 50) -> Counter[str]:
    """The Redis commands one ``store_result`` sends, counted on this Redis: subtracted from a
    window's commands, what is left is what the web process caused."""
    celery = celery_app(redis_url)
    [task_id] = issue_tasks(redis_url, 1, 600)
    with Redis.from_url(redis_url) as redis:
        before = command_counts(redis)
        for step in range(1, samples + 1):
            store_progress(celery, task_id, step, samples)
        after = command_counts(redis)
    celery.backend.client.close()
    celery.close()
    # Rounded: a web process may send a command or two of its own meanwhile.
    per_write = Counter({name: round((after[name] - before[name]) / samples) for name in after})
    del per_write["info"]
    return +per_write

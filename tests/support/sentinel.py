"""Redis Sentinel with real processes: a primary, a replica of it, and three sentinels."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from redis import Redis

from live_progress.launch.processes import wait_for
from live_progress.launch.redis_server import RedisServer, answers, find_redis_server, free_port

MASTER = "live-progress"


class SentinelSetup:
    """A primary and one replica (plain redis-servers on free ports), watched by three
    sentinels with quorum 2 that call the primary down after ``down_after_ms`` of silence."""

    def __init__(self, down_after_ms: int = 1_000, failover_timeout_ms: int = 3_000) -> None:
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.primary = RedisServer()
        self.replica = RedisServer()
        self.sentinel_ports: list[int] = []
        self._sentinels: list[subprocess.Popen[bytes]] = []
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def url(self, db: int = 0) -> str:
        """``REDIS_URL`` the kombu way: every sentinel, the database on the last."""
        return ";".join(f"sentinel://127.0.0.1:{port}" for port in self.sentinel_ports) + f"/{db}"

    def start(self) -> SentinelSetup:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.primary.start()
        self.replica.start()
        with Redis(port=self.replica.port) as replica:
            replica.replicaof("127.0.0.1", self.primary.port)
            wait_for(lambda: replica.info("replication")["master_link_status"] == "up", 10, "the replica to sync")
        self._dir = tempfile.TemporaryDirectory(prefix="sentinel-")
        folder = Path(self._dir.name)
        for n in range(3):
            port = free_port()
            config = folder / f"sentinel-{n}.conf"
            # Sentinel rewrites its configuration file as it learns, so each has its own.
            config.write_text(
                f"port {port}\n"
                "bind 127.0.0.1\n"
                f"dir {folder}\n"
                f"logfile {folder / f'sentinel-{n}.log'}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} {self.down_after_ms}\n"
                f"sentinel failover-timeout {MASTER} {self.failover_timeout_ms}\n"
            )
            process = subprocess.Popen([find_redis_server(), str(config), "--sentinel"], stdout=subprocess.DEVNULL)
            self._sentinels.append(process)
            self.sentinel_ports.append(port)
        wait_for(lambda: all(answers("127.0.0.1", port) for port in self.sentinel_ports), 10, "the sentinels")
        # Ready for a failover: each sentinel knows the replica and the two other sentinels.
        wait_for(self._ready, 30, "the sentinels to find the replica and each other")

    def _ready(self) -> bool:
        for port in self.sentinel_ports:
            with Redis(port=port, decode_responses=True) as sentinel:
                state = sentinel.sentinel_master(MASTER)
                if state["num-other-sentinels"] < 2 or state["num-slaves"] < 1:
                    return False
        return True

    def master_port(self) -> set[int]:
        """The master's port as each sentinel that answers sees it."""
        ports = set()
        for port in self.sentinel_ports:
            with contextlib.suppress(OSError), Redis(port=port, socket_timeout=1) as sentinel:
                ports.add(int(sentinel.sentinel_get_master_addr_by_name(MASTER)[1]))
        return ports

    def kill_primary(self) -> None:
        """``kill -9`` the primary, as a machine that dies takes it."""
        with Redis(port=self.primary.port) as primary:
            pid = int(primary.info("server")["process_id"])
        os.kill(pid, signal.SIGKILL)

    def sentinel_log(self) -> str:
        if self._dir is None:
            return ""
        return "\n".join(path.read_text(errors="replace") for path in sorted(Path(self._dir.name).glob("*.log")))

    def stop(self) -> None:
        for process in self._sentinels:
            process.terminate()
        for process in self._sentinels:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._sentinels.clear()
        self.replica.stop()
        self.primary.stop()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> SentinelSetup:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def wait_for_failover(setup: SentinelSetup, timeout: float = 30) -> float:
    """Seconds until every sentinel names the replica as master."""
    started = time.monotonic()
    wait_for(lambda: setup.master_port() == {setup.replica.port}, timeout, "the sentinels to promote the replica")
    return time.monotonic() - started

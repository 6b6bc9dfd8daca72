"""What the benchmark reads about processes and Redis: CPU time, RSS, commands served."""

from __future__ import annotations

import os
import resource
from array import array
from collections import Counter

from redis import Redis

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and the processes it started, theirs and so on: a uvicorn with ``--workers N`` is
    a supervisor and N workers, each with a memory and a CPU time of its own."""
    pids = [pid]
    for parent in pids:  # grows as it goes
        try:
            for thread in os.listdir(f"/proc/{parent}/task"):
                with open(f"/proc/{parent}/task/{thread}/children") as children:
                    pids.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended meanwhile
    return pids


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and the processes it started (all their threads), from /proc/<pid>/stat."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            if member == pid:
                raise
            continue
        # After the command name: state is field 3, utime 14 and stime 15 (man 5 proc).
        total += int(fields[11]) + int(fields[12])
    return total / _CLOCK_TICKS


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes(pid: int) -> int:
    """VmRSS of ``pid`` and the processes it started, added up."""
    return sum(_rss(member) for member in process_tree(pid))


def peak_rss_bytes(pid: int) -> int:
    """The highest resident set any of ``pid`` and the processes it started reached (VmHWM)."""
    peaks = []
    for member in process_tree(pid):
        try:
            peaks.append(_status_bytes(member, "VmHWM"))
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended meanwhile
    return max(peaks, default=0)


def _rss(pid: int) -> int:
    return _status_bytes(pid, "VmRSS")


def _status_bytes(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def connections_by_process(pid: int, port: int) -> dict[int, int]:
    """The established TCP connections to local ``port`` that each process of ``pid``'s tree
    holds (from /proc/net/tcp and each process's fds); processes holding none are left out."""
    inodes = set(established_to(port).values())
    held = {}
    for member in process_tree(pid):
        count = len(socket_inodes(member) & inodes)
        if count:
            held[member] = count
    return held


def established_to(port: int) -> dict[int, str]:
    """The socket inode of the server's end of each established connection to local ``port``,
    by the client's port (from /proc/net/tcp and /proc/net/tcp6)."""
    inodes = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes[int(fields[2].rsplit(":", 1)[1], 16)] = fields[9]
    return inodes


def socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets ``pid`` has open."""
    return {link[8:-1] for link in _fd_links(pid) if link.startswith("socket:[")}


def _fd_links(pid: int) -> list[str]:
    """What each open fd of ``pid`` is (``socket:[<inode>]`` for a socket); fds that close meanwhile left out."""
    links = []
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, ProcessLookupError):
        return links
    for fd in fds:
        try:
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return links


def command_counts(redis: Redis) -> Counter[str]:
    """Calls per command since Redis started (INFO commandstats)."""
    stats = redis.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()})


def percentile(values: array | list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0..100) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil, at least the first
    return float(ordered[int(rank) - 1])


def raise_fd_limit() -> int:
    """Soft limit up to the hard one, inherited by the processes started after it.

    The limit is per process: a uvicorn with ``--workers N`` gives each of its N workers the
    whole of it, while the load client holds every stream's socket in its one process.
    """
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard

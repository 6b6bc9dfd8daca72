"""The folder where the web processes of one service pool their metrics (prometheus_client's
multiprocess mode), so that ``/metrics`` adds up over all of them whichever one answers.

prometheus_client switches to that mode when it is first imported and PROMETHEUS_MULTIPROC_DIR
names a folder; each process then writes its figures to files of its own there. So this module
imports nothing of it at the top, and the web process's factory calls ``share_metrics()`` before
anything else imports it.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
# The file naming the service whose figures the folder holds.
_OWNER = "owner"
# prometheus_client's files of gauges that count only while their process lives: gauge_<mode>_<pid>.db.
_LIVE_GAUGE = re.compile(r"gauge_live\w*?_(\d+)\.db")


@dataclass(frozen=True)
class Owner:
    """A process, told apart from a later one given the same pid by its start time."""

    pid: int
    started: str

    @classmethod
    def of(cls, pid: int) -> Owner:
        return cls(pid, _start_time(pid) or "")

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        pid, _, started = text.strip().partition(" ")
        return cls(int(pid), started) if pid.isdigit() else None

    def alive(self) -> bool:
        return _running(self.pid) and (_start_time(self.pid) or "") == self.started

    def __str__(self) -> str:
        return f"{self.pid} {self.started}"


def shared_folder() -> Path | None:
    """The multiprocess folder prometheus_client writes to in this process, if any."""
    given = os.environ.get(MULTIPROC_DIR)
    return Path(given) if given else None


def share_metrics() -> Path | None:
    """Set up the folder for this web process and name it in PROMETHEUS_MULTIPROC_DIR; None
    when this process serves alone (nothing to add up).

    The folder is the operator's when PROMETHEUS_MULTIPROC_DIR is set; else, for the worker
    processes of one uvicorn (``--workers``, spawned by multiprocessing), one of their own,
    named after uvicorn's process. Its files are removed when a new service starts, and kept
    while the same one replaces a worker: counters never go back.
    """
    given = os.environ.get(MULTIPROC_DIR)
    supervisor = multiprocessing.parent_process()
    if not given and supervisor is None:
        return None
    if not given and "prometheus_client" in sys.modules:
        raise RuntimeError(
            f"prometheus_client was imported before {MULTIPROC_DIR} was set: "
            "this web process's metrics would not add up with the others'"
        )
    owner = Owner.of(supervisor.pid if supervisor is not None and supervisor.pid else os.getpid())
    folder = Path(given) if given else _folder_of(owner)
    claim(folder, owner)
    os.environ[MULTIPROC_DIR] = str(folder)
    return folder


def claim(folder: Path, owner: Owner) -> None:
    """Make ``folder`` hold the figures of ``owner``'s service: another service's files go."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{_OWNER}.lock").open("a") as lock:
        # The worker processes of one service start at once: one removes, the others find it done.
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = folder / _OWNER
        if not marker.exists() or marker.read_text() != str(owner):
            for stale in folder.glob("*.db"):
                stale.unlink()
            # Whole or not at all: other services read it to tell whether this one still runs.
            written = folder / f"{_OWNER}.new"
            written.write_text(str(owner))
            written.replace(marker)


def forget_dead(folder: Path) -> None:
    """Drop the live gauges of processes that are gone without saying so (SIGKILL, a crash):
    what ``mark_process_dead`` does for a process that exits cleanly."""
    from prometheus_client.multiprocess import mark_process_dead

    pids = {int(match[1]) for path in folder.glob("gauge_live*.db") if (match := _LIVE_GAUGE.fullmatch(path.name))}
    for pid in pids:
        if not _running(pid):
            mark_process_dead(pid, str(folder))


def service_folder(supervisor: int) -> Path:
    """The folder of the web processes that the uvicorn ``supervisor`` started, when
    PROMETHEUS_MULTIPROC_DIR names none."""
    return _root() / str(supervisor)


def _root() -> Path:
    return Path(tempfile.gettempdir()) / f"live-progress-{os.getuid()}" / "web-metrics"


def _folder_of(owner: Owner) -> Path:
    """``owner``'s folder, beside those of services started before: those whose uvicorn is gone
    are removed on the way."""
    root = _root()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    for other in root.iterdir():
        marker = other / _OWNER
        left = Owner.parse(marker.read_text()) if marker.exists() else None
        if left is not None and left.pid != owner.pid and not left.alive():
            shutil.rmtree(other, ignore_errors=True)
    return service_folder(owner.pid)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _start_time(pid: int) -> str | None:
    """When the process started, in clock ticks since boot (Linux's /proc); None elsewhere or gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces: count the fields after it.
    return stat.rsplit(")", 1)[1].split()[19]

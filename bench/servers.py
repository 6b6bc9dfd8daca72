"""The processes one benchmark run starts: web servers, each on its own port.

Under uvicorn, as the Procfile runs the web; or under granian (``--server granian``) for a
comparison: granian 2.x serves ASGI from Rust (its HTTP, its own I/O thread), runs the app in
a worker process it starts, and holds at most ``--backpressure`` requests at once per worker
(by default its backlog, 1,024: an SSE stream is a request that never ends, so it is set
above MAX_STREAMS here).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen

from live_progress.launch.processes import STARTED, Process, wait_for
from live_progress.launch.procfile import procfile_command
from live_progress.launch.redis_server import free_port

# The app the Procfile's web line serves; a benchmark may serve another in its place.
PROCFILE_FACTORY = "live_progress.web.process:create_process_app"
# Above somaxconn, which then caps it: as deep an accept queue as the kernel allows.
BACKLOG = 16384


@dataclass(frozen=True)
class WebSpec:
    """A web server a benchmark starts: its name in the logs, the app (a factory), its
    environment, where it logs, the path and text that say it is ready, and how many processes."""

    name: str
    factory: str
    env: Mapping[str, str]
    log_dir: Path
    ready_path: str
    ready_text: bytes = b""
    processes: int = 1


def serving_pid(process: Process) -> int:
    """The process that runs the app: granian's worker (its only child), else the process itself."""
    pid = process.popen.pid
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pid
    return int(children[0]) if len(children) == 1 else pid


def start_granian(web: WebSpec) -> tuple[Process, int]:
    """The app under granian: one worker, uvloop, HTTP/1.1, the same backlog as uvicorn's."""
    if web.processes != 1:
        raise ValueError("the granian set-up runs one worker process")
    port = free_port()
    # Above anything a benchmark opens, so that MAX_STREAMS or the fd limit is what stops it.
    backpressure = max(32768, int(web.env.get("MAX_STREAMS", "0")) + 1024)
    args = [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory", web.factory,
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--loop", "uvloop", "--http", "1",
        "--no-ws", "--backlog", str(BACKLOG), "--backpressure", str(backpressure), "--log-level", "warning",
    ]  # fmt: skip
    return _wait_ready(Process(web.name, args, web.env, web.log_dir), port, web.ready_path, web.ready_text)


def start_uvicorn(web: WebSpec) -> tuple[Process, int]:
    """The Procfile's web line (uvicorn, uvloop and httptools; ``processes`` of them, its
    WEB_CONCURRENCY) serving ``factory`` in place of the service's own, with a deeper backlog;
    returns once every process has started and ``ready_path`` answers."""
    port = free_port()
    env = {**web.env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(web.processes)}
    args = [web.factory if arg == PROCFILE_FACTORY else arg for arg in procfile_command("web", env)]
    # The Procfile's --no-access-log keeps a log line per request out of the figures.
    process = Process(web.name, [*args, "--backlog", str(BACKLOG)], env, web.log_dir)
    return _wait_ready(process, port, web.ready_path, web.ready_text, started=web.processes)


# How each server a benchmark can run its webs under is started, by name (same arguments).
SERVERS = {"uvicorn": start_uvicorn, "granian": start_granian}


def _wait_ready(
    process: Process, port: int, ready_path: str, ready_text: bytes, started: int = 0
) -> tuple[Process, int]:
    """Once ``started`` processes have logged their start (uvicorn's), and ``ready_path`` answers."""
    name = process.name

    def ready() -> bool:
        if not process.alive():
            raise RuntimeError(f"{name} exited:\n{process.log()}")
        if process.log().count(STARTED) < started:
            return False
        try:
            with urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=1) as response:
                return ready_text in response.read()
        except OSError:
            return False

    try:
        wait_for(ready, 30, name)
    except BaseException:
        process.stop()
        raise
    return process, port

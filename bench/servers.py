"""The processes one benchmark run starts: web servers under uvicorn, each on its own port."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.request import urlopen

from launch.processes import STARTED, Process, wait_for
from launch.procfile import procfile_command
from launch.redis_server import free_port

# The app the Procfile's web line serves; a benchmark may serve another in its place.
PROCFILE_FACTORY = "app.main:create_app"
# Above somaxconn, which then caps it: as deep an accept queue as the kernel allows.
BACKLOG = 16384


def start_uvicorn(
    name: str,
    factory: str,
    env: Mapping[str, str],
    log_dir: Path,
    ready_path: str,
    ready_text: bytes = b"",
    processes: int = 1,
) -> tuple[Process, int]:
    """The Procfile's web line (uvicorn, uvloop and httptools; ``processes`` of them, its
    WEB_CONCURRENCY) serving ``factory`` in place of the service's own, with a deeper backlog;
    returns once every process has started and ``ready_path`` answers."""
    port = free_port()
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(processes)}
    args = [factory if arg == PROCFILE_FACTORY else arg for arg in procfile_command("web", env)]
    # The Procfile's --no-access-log keeps a log line per request out of the figures.
    process = Process(name, [*args, "--backlog", str(BACKLOG)], env, log_dir)

    def ready() -> bool:
        if not process.alive():
            raise RuntimeError(f"{name} exited:\n{process.log()}")
        if process.log().count(STARTED) < processes:
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

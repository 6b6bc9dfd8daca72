"""The whole service on one machine: the web process and the worker from the Procfile, with a Redis.

``live-progress serve`` and ``python -m live_progress.launch`` both run ``serve()``.

When nothing answers at REDIS_URL (default redis://127.0.0.1:6379/0) and it names this
machine, a redis-server is started there for as long as the service runs; a sentinel://
REDIS_URL (Redis Sentinel) is used as it is, never started. It keeps its data
in ``REDIS_DATA_DIR/port-<port>`` (see live_progress/launch/settings.py), so jobs and results outlive it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from live_progress.launch.procfile import PROCFILE
from live_progress.launch.redis_server import RedisServer, RedisServerError, answers
from live_progress.launch.settings import LaunchSettings
from live_progress.redis_url import SentinelURL, is_sentinel, safe_url
from live_progress.settings import SettingsError

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def serve() -> int:
    """Runs until Ctrl-C (or SIGTERM); the exit code of honcho, or 1 when no Redis can be had."""
    try:
        settings = LaunchSettings.load()
    except SettingsError as exc:
        print(f"launch: {exc}", file=sys.stderr)
        return 1
    url = settings.redis_url
    shown = safe_url(url)  # what the lines below print: never the password
    sentinel = is_sentinel(url)
    # Redis Sentinel's servers are someone else's to run: never one started here.
    parts = urlsplit("" if sentinel else url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    with contextlib.ExitStack() as stack:
        if sentinel:
            if not any(answers(*address) for address in SentinelURL.parse(url).sentinels):
                print(f"launch: no sentinel answers at {shown}; start Redis Sentinel or set REDIS_URL", file=sys.stderr)
                return 1
            print(f"launch: using Redis Sentinel at {shown}, master {settings.redis_sentinel_master}", flush=True)
        elif answers(host, port):
            print(f"launch: using the Redis that answers at {shown}", flush=True)
        elif host in _LOCAL_HOSTS:
            data_dir = settings.redis_data_path(port)
            bind = "127.0.0.1" if host == "localhost" else host
            try:
                stack.enter_context(RedisServer(port=port, host=bind, data_dir=data_dir))
            except RedisServerError as exc:
                print(f"launch: {exc}", file=sys.stderr)
                return 1
            print(f"launch: started a local redis-server on port {port}, keeping its data in {data_dir}", flush=True)
        else:
            print(f"launch: nothing answers at {shown}; start Redis there or set REDIS_URL", file=sys.stderr)
            return 1
        honcho = subprocess.Popen(
            # honcho hands out PORT from -p, so pass the one the web process should use.
            [
                sys.executable,
                "-m",
                "honcho",
                "start",
                "-f",
                str(PROCFILE),
                "-d",
                os.getcwd(),
                "-p",
                str(settings.port),
            ],
            # The Procfile's commands are this environment's (a virtualenv's, say).
            env={
                **os.environ,
                "REDIS_URL": url,
                "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            },
        )
        # Ctrl-C reaches honcho too (same process group); it stops web and worker itself.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: honcho.terminate())
        return honcho.wait()
    return 0

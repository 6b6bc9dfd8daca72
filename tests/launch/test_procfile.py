"""The Procfile's lines as the tests and benchmarks run them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from live_progress.launch.procfile import expand, procfile_command, procfile_lines


@pytest.mark.parametrize(
    ("command", "env", "expanded"),
    [
        pytest.param("--port ${PORT:-8000}", {}, "--port 8000", id="default"),
        pytest.param("--port ${PORT:-8000}", {"PORT": ""}, "--port 8000", id="empty-takes-default"),
        pytest.param("--port ${PORT:-8000}", {"PORT": "9000"}, "--port 9000", id="set"),
        pytest.param("--port $PORT", {"PORT": "9000"}, "--port 9000", id="plain"),
        pytest.param("--port $PORT", {}, "--port ", id="plain-unset"),
        pytest.param("-n ${NAME}", {"NAME": "w"}, "-n w", id="braces-without-default"),
    ],
)
def test_expand_as_a_shell_does(command: str, env: dict[str, str], expanded: str) -> None:
    assert expand(command, env) == expanded


def test_the_procfile_has_web_and_worker() -> None:
    assert set(procfile_lines()) == {"web", "worker"}


def test_web_runs_uvicorn_with_the_procfiles_flags() -> None:
    args = procfile_command("web", {"HOST": "0.0.0.0", "PORT": "8123"})

    assert args[:3] == [sys.executable, "-m", "uvicorn"]
    assert args[3:] == [
        "live_progress.web.process:create_process_app",
        "--factory",
        "--host",
        "0.0.0.0",
        "--port",
        "8123",
        "--workers",
        "1",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "5",
        "--log-level",
        "info",
    ]


def test_log_level_reaches_uvicorn_and_celery() -> None:
    web = procfile_command("web", {"LOG_LEVEL": "debug"})
    worker = procfile_command("worker", {"LOG_LEVEL": "debug"})

    assert web[web.index("--log-level") + 1] == "debug"
    assert "--loglevel=debug" in worker


def test_web_processes_come_from_the_environment() -> None:
    args = procfile_command("web", {"WEB_CONCURRENCY": "3"})
    assert args[args.index("--workers") + 1] == "3"


def test_worker_concurrency_comes_from_the_environment(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        "# ignored\nworker: celery -A live_progress.worker.app worker --concurrency=${WORKER_CONCURRENCY:-1}\n"
    )

    assert procfile_command("worker", {}, procfile)[-1] == "--concurrency=1"
    assert procfile_command("worker", {"WORKER_CONCURRENCY": "3"}, procfile)[-1] == "--concurrency=3"

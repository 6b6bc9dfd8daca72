"""No secret in any log line: the whole service (``live-progress serve``: launcher, web, worker)
and the CLI, at LOG_LEVEL=debug, against a Redis that needs a password and with API_TOKEN set.

A job, a failed and a successful sign-in, and a Redis restart are driven through it; then every
process's output is searched for the password, the token and the session cookie. Reproduce the
search by hand with ``grep -rlF "$PASSWORD" tests/artifacts/secrets-*.log`` (it finds nothing).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from live_progress.launch.processes import wait_for
from live_progress.launch.redis_server import RedisServer, free_port
from live_progress.web.security.access import COOKIE
from tests.conftest import ARTIFACTS, DATA, ROOT

pytestmark = pytest.mark.integration

PASSWORD = f"redis-pw-{secrets.token_hex(8)}"
TOKEN = f"api-token-{secrets.token_hex(12)}"
LIVE_PROGRESS = str(Path(sys.executable).with_name("live-progress"))
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def redis_with_password() -> Iterator[RedisServer]:
    with RedisServer(password=PASSWORD) as server:
        yield server


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    folder = tmp_path / "audio"
    folder.mkdir()
    shutil.copy(DATA / "batch" / "weather.mp3", folder)
    return folder


def log_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"secrets-{name}.log"


def healthz(base_url: str) -> int | None:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=2).status_code
    except httpx.TransportError:
        return None


def finished(base_url: str, result_url: str) -> bool:
    root = httpx.get(base_url + result_url, headers=BEARER, timeout=5).json()["root"]
    return root.get("title") not in {"status", "progress"}


def drive(base_url: str, audio: Path, redis: RedisServer) -> str:
    """Drives the service; returns the session cookie it was given."""
    # A job, followed to its end by the CLI with the token.
    with log_path("cli").open("wb") as out:
        cli = subprocess.run(
            [LIVE_PROGRESS, "transcribe", str(audio), "--url", base_url, "--token", TOKEN],
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=300,
        )
    assert cli.returncode == 0, log_path("cli").read_text()
    assert "weather" in log_path("cli").read_text().lower()

    # A failed sign-in, as a browser and as an API client; a good one, used, then ended.
    with httpx.Client(base_url=base_url, timeout=10) as client:
        assert client.post("/login", data={"token": "a-wrong-guess"}).status_code == 401
        wrong = client.post("/login", data={"token": "another-guess"}, headers={"Accept": "application/json"})
        assert wrong.status_code == 401
        assert client.post("/login", data={"token": TOKEN}).status_code == 303
        cookie = client.cookies[COOKIE]
        assert client.get("/session").status_code == 200
        assert client.post("/logout").status_code == 303

    # Redis goes away and comes back: the web serves 503s meanwhile, and both reconnect.
    redis.stop()
    wait_for(lambda: healthz(base_url) == 503, 30, "/healthz answering 503 without Redis")
    redis.start()
    wait_for(lambda: healthz(base_url) == 200, 60, "/healthz answering 200 with Redis back")
    again = httpx.post(
        f"{base_url}/audio/transcribe", json={"inputs": {"input_dir": {"path": str(audio)}}}, headers=BEARER
    )
    assert again.status_code == 202, again.text
    result_url = again.json()["result_url"]
    wait_for(lambda: finished(base_url, result_url), 180, "the job submitted after the Redis restart to end")
    return cookie


def test_no_process_logs_a_secret(redis_with_password: RedisServer, audio: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "REDIS_URL": redis_with_password.url,
        "API_TOKEN": TOKEN,
        "LOG_LEVEL": "debug",
        "PORT": str(free_port()),
        "ALLOWED_ROOTS": str(audio),
        "REDIS_DATA_DIR": str(tmp_path / "redis-data"),
        "WORKER_METRICS_PORT": "0",
        "PYTHONUNBUFFERED": "1",
    }
    base_url = f"http://127.0.0.1:{env['PORT']}"
    with log_path("serve").open("wb") as out:
        # The launcher, and through honcho the Procfile's web and worker: their output is all here.
        serve = subprocess.Popen(
            [LIVE_PROGRESS, "serve"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for(lambda: serve.poll() is None and healthz(base_url) == 200, 90, "live-progress serve")
            cookie = drive(base_url, audio, redis_with_password)
        finally:
            os.killpg(serve.pid, signal.SIGINT)
            serve.wait(30)

    logs = {name: log_path(name).read_text(errors="replace") for name in ("serve", "cli")}
    served = logs["serve"]
    forbidden = {
        "the Redis password": PASSWORD,
        "the Redis password, URL-quoted": quote(PASSWORD, safe=""),
        "the API token": TOKEN,
        "a session cookie": cookie,
    }
    for name, text in logs.items():
        for what, secret in forbidden.items():
            leaks = [line for line in text.splitlines() if secret in line]
            assert not leaks, f"{what} is in the {name} log ({log_path(name)}):\n" + "\n".join(leaks[:5])
    # The search is worth something: every process logged, at debug, and about Redis.
    assert "launch: using the Redis that answers at redis://:**@127.0.0.1" in served
    assert " web." in served and " worker." in served, "honcho's lines of web and worker"
    lines = served.splitlines()
    assert any(" web." in line and " DEBUG " in line for line in lines), "LOG_LEVEL=debug reached the web"
    assert any(" worker." in line and ": DEBUG/" in line for line in lines), "LOG_LEVEL=debug reached the worker"
    assert "Connected to redis://:**@127.0.0.1" in served, "Celery's own masked broker URL"

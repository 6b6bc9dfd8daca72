"""The session's real parts, for every folder: a redis-server on a free port, a Celery worker, uvicorn
serving the app, a browser; and the checkout's paths (ROOT, DATA, ARTIFACTS)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from live_progress.launch.processes import Process, start_web, start_worker
from live_progress.launch.redis_server import RedisServer
from tests.support import skip_gate

# The checkout: this file is ROOT/tests/conftest.py (other modules import ROOT, never count parents).
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
ARTIFACTS = ROOT / "tests" / "artifacts"


def pytest_configure(config: pytest.Config) -> None:
    # In CI (.ci/run sets LIVE_PROGRESS_NO_SKIPS=1) a skip not in tests/allowed_skips.txt fails.
    skip_gate.install(config)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def audio_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ALLOWED_ROOTS for the service: copies of the committed clips, so nothing writes into tests/."""
    root = tmp_path_factory.mktemp("audio-root")
    for folder in ("batch", "with_corrupt", "long"):
        shutil.copytree(DATA / folder, root / folder)
    # Long enough to cancel in the middle: the long clip six times over.
    many = root / "many"
    many.mkdir()
    for n in range(6):
        shutil.copy(DATA / "long" / "story.mp3", many / f"story-{n}.mp3")
    (root / "no_audio").mkdir()
    (root / "no_audio" / "readme.txt").write_text("nothing to hear\n")
    return root


@pytest.fixture(scope="session")
def service_env(
    redis_server: RedisServer, audio_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "ALLOWED_ROOTS": str(audio_root),
        "TRANSCRIPTS_DIR": str(tmp_path_factory.mktemp("transcripts-fallback")),
        # Frequent progress writes, so the tests see several per file.
        "PROGRESS_INTERVAL": "0.05",
        # Keep-alive comments every second, so a test can see one.
        "SSE_PING_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
        # Workers serve metrics only where a test asks for them (several run at once).
        "WORKER_METRICS_PORT": "0",
    }


@pytest.fixture(scope="session")
def worker(service_env: dict[str, str]) -> Iterator[Process]:
    process = start_worker(service_env, ARTIFACTS)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def web(service_env: dict[str, str]) -> Iterator[str]:
    process, base_url = start_web(service_env, ARTIFACTS)
    yield base_url
    process.stop()


@pytest.fixture(scope="session")
def service(web: str, worker: Process) -> str:
    """The base URL of a web process with a worker behind it."""
    return web


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium driven by Playwright (never a browser Playwright downloads).

    Per module: Playwright's sync API keeps an event loop running while it is open, which
    the async tests of the next module would trip over."""
    if not CHROMIUM.exists():
        pytest.skip(f"No browser: {CHROMIUM} is missing (apt-get install chromium; .ci/run does that as root)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()

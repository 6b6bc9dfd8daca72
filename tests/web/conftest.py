"""In-process web tests: the app on httpx's ASGITransport, a real redis-server on a free port."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from app.settings import Settings
from launch.redis_server import RedisServer
from tests.web.inprocess import serve, web_settings

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def audio_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ALLOWED_ROOTS: copies of the committed clips, and a folder without audio."""
    root = tmp_path_factory.mktemp("web-audio-root")
    for folder in ("batch", "with_corrupt"):
        shutil.copytree(DATA / folder, root / folder)
    (root / "no_audio").mkdir()
    (root / "no_audio" / "readme.txt").write_text("nothing to hear\n")
    return root


@pytest.fixture
def settings(redis_server: RedisServer, audio_root: Path) -> Settings:
    return web_settings(redis_server.url, audio_root)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings) as client:
        yield client

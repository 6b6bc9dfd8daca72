"""In-process web tests: the app on httpx's ASGITransport, a real redis-server on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from live_progress.launch.redis_server import RedisServer
from live_progress.web.settings import Settings

# The same redis-server and ALLOWED_ROOTS (copies of the committed clips) as the integration tests.
from tests.integration.conftest import audio_root, redis_server
from tests.web.inprocess import serve, web_settings

__all__ = ["audio_root", "redis_server"]


@pytest.fixture
def settings(redis_server: RedisServer, audio_root: Path) -> Settings:
    return web_settings(redis_server.url, audio_root)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings) as client:
        yield client

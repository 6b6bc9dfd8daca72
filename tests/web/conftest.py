"""In-process web tests: the app on httpx's ASGITransport, against the session's redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from live_progress.launch.redis_server import RedisServer
from live_progress.web.settings import Settings
from tests.support.inprocess import serve, web_settings

# A database of its own on the session's redis-server: the session's worker (database 0) never
# takes the jobs these tests queue, so a queued task stays queued.
DATABASE = 21


@pytest.fixture
def settings(redis_server: RedisServer, audio_root: Path) -> Settings:
    return web_settings(redis_server.database_url(DATABASE), audio_root)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings) as client:
        yield client

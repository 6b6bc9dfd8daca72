"""The web app in this process: httpx's ASGITransport, the lifespan run by asgi-lifespan.

No uvicorn and no worker: what these tests show is request handling (routing, validation,
errors, auth, the guards) against a real Redis. Whole responses are buffered, so streams are
tested against a real uvicorn (tests/web/engine/test_sse.py, and the tests marked integration).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from live_progress import Plugin
from live_progress.web.app import create_app
from live_progress.web.settings import Settings

BASE = "http://127.0.0.1:8000"


def web_settings(redis_url: str, audio_root: Path, **values: Any) -> Settings:
    return Settings(
        redis_url=redis_url,
        allowed_roots=(audio_root,),
        **values,
    )


@contextlib.asynccontextmanager
async def serve(settings: Settings, plugins: Sequence[Plugin] | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app built from ``settings`` (and ``plugins``: default the installed
    ones), its lifespan (Redis clients, hub) running."""
    app = create_app(settings, plugins)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client

"""The web app in this process: httpx's ASGITransport, the lifespan run by asgi-lifespan.

No uvicorn and no worker: what these tests show is request handling (routing, validation,
errors, auth, the guards) against a real Redis. Whole responses are buffered, so streams are
tested against a real uvicorn in tests/integration.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from live_progress.web.app import create_app
from live_progress.web.settings import Settings

BASE = "http://127.0.0.1:8000"


def web_settings(redis_url: str, audio_root: Path, **values: Any) -> Settings:
    return Settings(
        redis_url=redis_url,
        allowed_roots=(audio_root,),
        # Python's own thresholds: the app's tuning is for a web process, not for this one.
        gc_thresholds=(700, 10, 10),
        **values,
    )


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app built from ``settings``, its lifespan (Redis clients, hub) running."""
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client

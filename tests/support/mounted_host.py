"""A project's own Starlette app with the service mounted under ``/jobs``, as test_mount.py serves it:
``uvicorn --factory tests.support.mounted_host:create_host_app``.

It reads the service's settings from the environment (REDIS_URL, ALLOWED_ROOTS) and reports, at
``/process``, whether anything changed its process's log handlers, signal handlers or GC.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from live_progress.web import Settings, create_app
from tests.support.process_state import changes, process_state


def create_host_app() -> Starlette:
    # uvicorn has set up its logging and its signal handlers by now: the service must leave them be.
    before = process_state()
    jobs = create_app(Settings.load())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        # Starlette runs the lifespan of the app it serves, not of those mounted in it: the host
        # enters the service's own, and hands its state on to the requests that reach it.
        async with jobs.router.lifespan_context(jobs) as state:
            yield {**(state or {}), "greeting": "the host's own lifespan ran"}

    async def home(request: Request) -> JSONResponse:
        return JSONResponse({"greeting": request.state.greeting})

    async def process(request: Request) -> JSONResponse:
        return JSONResponse({"changed": changes(before, process_state())})

    routes = [Route("/", home), Route("/process", process), Mount("/jobs", app=jobs)]
    return Starlette(routes=routes, lifespan=lifespan)

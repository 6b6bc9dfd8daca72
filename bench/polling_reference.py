"""The usual tutorial's design, kept as the yardstick: each SSE connection polls Celery.

``uvicorn --factory bench.polling_reference:create_app`` with ``REDIS_URL`` set. Every
stream reads ``AsyncResult(task_id).state`` and ``.info`` (two blocking reads, so in a
thread) every 0.5 s and sends an event when they changed. No issued-id check, no fan-out.
"""

from __future__ import annotations

import asyncio
import json
import os

from celery import Celery
from celery.result import AsyncResult
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from live_progress.contract import celery_config

POLL_SECONDS = 0.5


def create_app() -> Starlette:
    redis_url = os.environ["REDIS_URL"]
    celery = Celery("polling-reference")
    celery.conf.update(celery_config(redis_url, redis_url, 3600))

    def read(task_id: str) -> tuple[str, object]:
        result = AsyncResult(task_id, app=celery)
        return result.state, result.info

    async def events(request: Request) -> Response:
        task_id = request.path_params["task_id"]

        async def stream():
            last = None
            while True:
                state, info = await run_in_threadpool(read, task_id)
                if (state, info) != last:
                    last = state, info
                    yield {"event": "progress", "data": json.dumps({"state": state, "info": info}, default=str)}
                    if state in ("SUCCESS", "FAILURE", "REVOKED"):
                        return
                await asyncio.sleep(POLL_SECONDS)

        return EventSourceResponse(stream(), sep="\n")

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(routes=[Route("/events/{task_id}", events), Route("/healthz", healthz)])

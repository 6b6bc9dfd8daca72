"""A bare Starlette JSON route: the ceiling the polling endpoint is compared against.

``uvicorn --factory bench.bare_app:create_app``; it answers the body a running task polls as.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BODY = {"root": {"title": "progress", "percent": 40, "description": "Step 4 of 10 #ts=1764300000000000000"}}


async def result(request: Request) -> Response:
    return JSONResponse(BODY)


def create_app() -> Starlette:
    return Starlette(routes=[Route("/result/{task_id}", result)])

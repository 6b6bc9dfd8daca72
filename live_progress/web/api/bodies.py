"""Reading request bodies within a size limit."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from live_progress.web.errors import InputError


async def read_body(request: Request, limit: int) -> bytes:
    too_large = InputError(f"The request body is larger than the limit of {limit} bytes", 413)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def parse_json(body: bytes) -> Any:
    if not body:
        raise InputError("The request body is empty; it must be a JSON object", 400)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"The request body is not valid JSON: {exc}", 400) from exc

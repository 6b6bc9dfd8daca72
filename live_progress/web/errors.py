"""The service's domain errors and how each becomes a JSON answer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from live_progress.plugin import InputError

logger = logging.getLogger(__name__)

# What an error answer says about whose fault it is, as /metrics counts them
# (live_progress_error_responses_total): the client's request (4xx), Redis or the broker not
# answering, this process at one of its limits, or a fault of the service itself (500).
ErrorKind = Literal["client", "outage", "busy", "internal"]


class InvalidFields(InputError):
    """A ``422`` for a body its model refuses: besides the message, ``fields`` has one entry per
    bad value (its ``field``, ``message``, the ``value`` sent and what is ``allowed`` when known)."""

    def __init__(self, message: str, fields: list[dict[str, Any]]) -> None:
        super().__init__(message, 422)
        self.fields = fields


class ServiceUnavailable(Exception):
    """Redis or the broker does not answer, or Redis cannot serve anyone now; the client may try
    again later."""

    kind: ErrorKind = "outage"


class ServiceBusy(ServiceUnavailable):
    """This process is at one of its limits (its Redis connections, its streams), not Redis
    down: a 503 too, counted apart from outages."""

    kind: ErrorKind = "busy"


def shown(value: object, limit: int = 80) -> str:
    """A value as the client sent it, repr-quoted and cut short: a message names what was sent,
    it does not echo it whole (a header of 8 KB, a body)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def malformed(name: str, value: object, expected: str) -> InputError:
    """The ``400`` for a value the client sent in a header, the path or the query string that
    cannot be read: what it sent and what is expected (a body's fields are ``422``s)."""
    return InputError(f"{name} has value {shown(value)}; {expected}", 400)


def json_response(body: object, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code, headers, media_type="application/json")


def constant_json(body: object) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that answers ``body``, encoded once."""
    encoded = orjson.dumps(body)

    async def answer(request: Request) -> Response:
        return Response(encoded, media_type="application/json")

    return answer


class ErrorResponse(Response):
    """``{"error": message}``, which counts itself in the process's metrics as it is sent, by
    status and ``kind``: guards, handlers and endpoints all answer errors with one."""

    media_type = "application/json"

    def __init__(
        self,
        message: str,
        status_code: int,
        headers: dict[str, str] | None = None,
        kind: ErrorKind | None = None,
        more: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(orjson.dumps({"error": message, **(more or {})}), status_code, headers)
        if kind is None:
            kind = "client" if status_code < 500 else "outage" if status_code == 503 else "internal"
        self.kind: ErrorKind = kind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The lifespan's services, as the server copies them into every request's scope (not
        # there for an app served without its lifespan).
        services = scope.get("state", {}).get("services")
        if services is not None:
            services.metrics.count_error(self.status_code, self.kind)
        await super().__call__(scope, receive, send)


def error_response(
    message: str, status_code: int, headers: dict[str, str] | None = None, kind: ErrorKind | None = None
) -> Response:
    """The JSON error answer; ``kind`` defaults by status: 4xx ``client``, 503 ``outage``, other
    5xx ``internal``."""
    return ErrorResponse(message, status_code, headers, kind)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and exc.detail == "Not Found":
        return error_response(f"No route for {request.method} {request.url.path}", 404)
    if exc.status_code == 405:
        return error_response(f"Method {request.method} is not allowed on {request.url.path}", 405, exc.headers)
    return error_response(str(exc.detail), exc.status_code, exc.headers)


async def _input_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)
    if isinstance(exc, InvalidFields):
        return ErrorResponse(str(exc), exc.status_code, more={"fields": exc.fields})
    return error_response(str(exc), exc.status_code)


async def _unavailable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceUnavailable)
    logger.warning("%s %s: %s", request.method, request.url.path, exc)
    return error_response(str(exc), 503, {"Retry-After": "2"}, exc.kind)


async def _internal_error(request: Request, exc: Exception) -> Response:
    logger.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response("Internal error; the service logged the details", 500, kind="internal")


exception_handlers = {
    HTTPException: _http_error,
    InputError: _input_error,
    ServiceUnavailable: _unavailable,
    Exception: _internal_error,
}

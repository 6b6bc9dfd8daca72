"""Checks in front of every route: which Host names the service answers, and who may change something.

DNS rebinding: another website's script can reach this service under that website's own name
(its DNS answer turns into 127.0.0.1); the browser then sends that name as Host. Only names in
``ALLOWED_HOSTS`` are answered.

Cross-site requests: a page on another site can send a POST that needs no CORS preflight (a
``text/plain`` fetch, a form) with a body that is valid JSON. Such a request carries its page's
``Origin`` and cannot say ``Content-Type: application/json`` without a preflight.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from live_progress.web.errors import error_response
from live_progress.web.settings import host_name

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


class HostPatterns:
    """Allow-list entries as ``ALLOWED_HOSTS`` takes them: names, addresses, ``*.example.com``, ``*``."""

    def __init__(self, names: Iterable[str]) -> None:
        names = set(names)
        self._any = "*" in names
        self._exact = frozenset(name for name in names if not name.startswith("*"))
        # "*.example.com" matches sub.example.com, not example.com (as Starlette's TrustedHostMiddleware).
        self._suffixes = tuple(name[1:] for name in names if name.startswith("*."))

    def allow(self, host_header: str) -> bool:
        if self._any:
            return True
        name = host_name(host_header)
        if not name:
            return False
        return name in self._exact or (bool(self._suffixes) and name.endswith(self._suffixes))


class HostGuard:
    """Answers ``400`` JSON to a request whose Host header is not in the allow-list."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str]) -> None:
        self._app = app
        self._patterns = HostPatterns(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        if self._patterns.allow(host):
            await self._app(scope, receive, send)
            return
        shown = repr(host[:200]) if host else "(none)"
        response = error_response(
            f"Host {shown} is not a name this service answers to; add it to the setting ALLOWED_HOSTS if it should be",
            400,
        )
        await response(scope, receive, send)


class CrossSiteGuard:
    """``POST``, ``PUT``, ``PATCH`` and ``DELETE`` with a body need it to be JSON (``415`` otherwise)
    and, when they carry an ``Origin``, the service's own or a trusted one (``403`` otherwise).

    ``form_paths`` take a form body instead (``/login``'s form); the Origin check holds there
    too, so another website cannot sign a browser in.
    """

    def __init__(self, app: ASGIApp, trusted_origins: Iterable[str] = (), form_paths: Iterable[str] = ()) -> None:
        self._app = app
        self._trusted = frozenset(_origin(origin) for origin in trusted_origins)
        self._form_paths = frozenset(form_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        problem = self._origin_problem(scope, headers) or self._body_problem(scope, headers)
        if problem is None:
            await self._app(scope, receive, send)
            return
        message, status_code = problem
        await error_response(message, status_code)(scope, receive, send)

    def _origin_problem(self, scope: Scope, headers: Headers) -> tuple[str, int] | None:
        origin = headers.get("origin")
        if origin is None:
            return None  # not a browser's request (curl, the terminal client), or a same-origin GET
        own = _origin(f"{scope['scheme']}://{headers.get('host', '')}")
        if _origin(origin) == own or _origin(origin) in self._trusted:
            return None
        return (
            f"A page from {origin[:200]!r} may not {scope['method']} here: only this service's own pages "
            "and the origins in the setting CORS_ORIGINS may",
            403,
        )

    def _body_problem(self, scope: Scope, headers: Headers) -> tuple[str, int] | None:
        if headers.get("content-length", "0").strip() in ("", "0") and "transfer-encoding" not in headers:
            return None  # no body (a DELETE, a logout): nothing to be tricked into reading
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        accepted = FORM if scope["path"] in self._form_paths else JSON
        if media_type == accepted:
            return None
        given = repr(media_type) if media_type else "none"
        return f"{scope['method']} {scope['path']} needs 'Content-Type: {accepted}'; it was sent {given}", 415


def _origin(value: str) -> str:
    return value.strip().lower().rstrip("/")

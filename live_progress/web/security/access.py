"""An optional API token: ``Authorization: Bearer`` for fetch and curl, a sign-in for the page.

EventSource cannot send headers, so a browser signs in once at ``/login``; the page's
streams then carry an HttpOnly, SameSite=Strict cookie holding a session of its own
(live_progress/web/security/sessions.py), never the token. ``/logout`` ends it.
"""

from __future__ import annotations

import hmac
import html
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from live_progress.web.api import openapi as api
from live_progress.web.api.bodies import read_body
from live_progress.web.api.openapi import DocumentedRoute
from live_progress.web.errors import ServiceUnavailable, error_response
from live_progress.web.security.sessions import Sessions
from live_progress.web.services import services_of

COOKIE = "live_progress_session"
OPEN_PATHS = frozenset({"/healthz", "/login", "/logout"})


def _sessions(request: Request) -> Sessions:
    sessions = services_of(request).sessions
    if sessions is None:
        raise RuntimeError("API_TOKEN is set but the lifespan made no Sessions")
    return sessions


class TokenAuth:
    """Every route but ``OPEN_PATHS`` needs the token (as a bearer header) or a live session cookie."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("token is empty")
        self._app = app
        self._bearer = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self._app(scope, receive, send)
            return
        response: Response
        try:
            allowed = await self._allowed(Request(scope))
        except ServiceUnavailable as exc:
            # Raised out of a middleware it would reach no exception handler but the 500 one.
            response = error_response(str(exc), 503, {"Retry-After": "2"}, exc.kind)
        else:
            if allowed:
                await self._app(scope, receive, send)
                return
            if scope["method"] == "GET" and scope["path"] == "/":
                response = RedirectResponse("/login", 303)
            else:
                response = error_response(
                    "This service needs its API token: send 'Authorization: Bearer <token>' or sign in at /login",
                    401,
                    {"WWW-Authenticate": "Bearer"},
                )
        await response(scope, receive, send)

    async def _allowed(self, request: Request) -> bool:
        header = request.headers.get("authorization", "").encode()
        if header and hmac.compare_digest(header, self._bearer):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and await _sessions(request).is_live(cookie)


_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:30rem;margin:4rem auto;padding:0 1rem}}
input{{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}}.error{{color:#b00020}}</style></head>
<body><h1>Sign in</h1><p class="error" role="alert">{message}</p>
<form method="post" action="/login"><label>API token
<input name="token" type="password" autocomplete="current-password" required autofocus></label>
<p><button>Sign in</button></p></form></body></html>"""


def login_routes(token: str) -> list[Route]:
    """``/login`` (a form that takes the token and starts a session) and ``/logout``."""

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(_LOGIN_PAGE.format(message=""))
        sessions = _sessions(request)
        client = request.client.host if request.client else "unknown"
        wait = await sessions.admit_attempt(client)
        if wait:
            message = f"Too many wrong tokens from this address; try again in {wait} s."
            return HTMLResponse(_LOGIN_PAGE.format(message=html.escape(message)), 429, {"Retry-After": str(wait)})
        body = await read_body(request, 4096)
        given = parse_qs(body.decode(errors="replace")).get("token", [""])[0]
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HTMLResponse(_LOGIN_PAGE.format(message=html.escape("That is not the API token.")), 401)
        await sessions.forget_attempts(client)
        response = RedirectResponse("/", 303)
        response.set_cookie(
            COOKIE,
            await sessions.start(),
            max_age=sessions.max_age,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(request: Request) -> Response:
        cookie = request.cookies.get(COOKIE)
        if cookie:
            await _sessions(request).end(cookie)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    return [
        DocumentedRoute("/login", login, {"get": api.LOGIN_FORM, "post": api.LOGIN}),
        DocumentedRoute("/logout", logout, {"post": api.LOGOUT}),
    ]

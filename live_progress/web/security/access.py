"""An optional API token: ``Authorization: Bearer`` for fetch and curl, a sign-in for the page.

EventSource cannot send headers, so a browser signs in once at ``/login``; the page's
streams then carry an HttpOnly, SameSite=Strict cookie holding a session of its own
(live_progress/web/security/sessions.py), never the token. ``/logout`` ends it; ``/session``
tells the page how long it has left. ``/login`` answers a client that asks for JSON in JSON.
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
from live_progress.web.errors import ServiceUnavailable, error_response, json_response
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

# Why the page sent a person back here (GET /login?reason=...): only these texts are shown, so
# a link cannot put words of its own on the sign-in page.
REASONS = {
    "ended": "Your session has ended (it expired, or you signed out elsewhere); sign in again to go on.",
    "signed-out": "You have signed out.",
}


def wants_json(request: Request) -> bool:
    """Whether the client's ``Accept`` prefers ``application/json`` to ``text/html`` (a browser's
    lists only the second); wildcards count for neither."""
    quality = {"application/json": 0.0, "text/html": 0.0}
    for item in request.headers.get("accept", "").split(","):
        media_type, *params = (part.strip() for part in item.split(";"))
        if media_type.lower() not in quality:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media_type.lower()] = max(quality[media_type.lower()], q)
    return quality["application/json"] > 0 and quality["application/json"] >= quality["text/html"]


def _refused(request: Request, message: str, status_code: int, headers: dict[str, str] | None = None) -> Response:
    """A refused sign-in: JSON to a client that asks for it, the form with the message to a browser."""
    if wants_json(request):
        return error_response(message, status_code, headers)
    return HTMLResponse(_LOGIN_PAGE.format(message=html.escape(message)), status_code, headers)


def login_routes(token: str) -> list[Route]:
    """``/login`` (a form that takes the token and starts a session), ``/logout``, and
    ``/session`` (how long the caller's sign-in has left, for the page)."""

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(_LOGIN_PAGE.format(message=REASONS.get(request.query_params.get("reason", ""), "")))
        sessions = _sessions(request)
        client = request.client.host if request.client else "unknown"
        wait = await sessions.admit_attempt(client)
        if wait:
            message = f"Too many wrong tokens from this address; try again in {wait} s."
            return _refused(request, message, 429, {"Retry-After": str(wait)})
        body = await read_body(request, 4096)
        given = parse_qs(body.decode(errors="replace")).get("token", [""])[0]
        if not hmac.compare_digest(given.encode(), token.encode()):
            return _refused(request, "That is not the API token.", 401)
        await sessions.forget_attempts(client)
        response: Response
        if wants_json(request):
            response = json_response({"expires_in": sessions.max_age})
        else:
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
        response = RedirectResponse("/login?reason=signed-out", 303)
        response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    async def session(request: Request) -> Response:
        # TokenAuth let the request in: a live cookie, or the bearer token (no session to end).
        cookie = request.cookies.get(COOKIE)
        left = await _sessions(request).seconds_left(cookie) if cookie else None
        return json_response({"expires_in": left})

    return [
        DocumentedRoute("/login", login, {"get": api.LOGIN_FORM, "post": api.LOGIN}),
        DocumentedRoute("/logout", logout, {"post": api.LOGOUT}),
        DocumentedRoute("/session", session, {"get": api.SESSION}),
    ]

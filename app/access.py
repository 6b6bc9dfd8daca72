"""An optional API token: ``Authorization: Bearer`` for fetch and curl, a cookie for the page.

EventSource cannot send headers, so a browser signs in once at ``/login``; the page's
streams then carry an HttpOnly, SameSite=Strict cookie. The cookie holds a value derived
from the token, never the token itself.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.bodies import read_body
from app.errors import error_response

COOKIE = "live_progress_session"
OPEN_PATHS = frozenset({"/healthz", "/login"})


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"live-progress session", hashlib.sha256).hexdigest()


class TokenAuth:
    """Every route but ``OPEN_PATHS`` needs the token (as a bearer header or the session cookie)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("token is empty")
        self._app = app
        self._bearer = f"Bearer {token}".encode()
        self._session = session_value(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._allowed(Request(scope)):
            await self._app(scope, receive, send)
            return
        response: Response
        if scope["method"] == "GET" and scope["path"] == "/":
            response = RedirectResponse("/login", 303)
        else:
            response = error_response(
                "This service needs its API token: send 'Authorization: Bearer <token>' or sign in at /login",
                401,
                {"WWW-Authenticate": "Bearer"},
            )
        await response(scope, receive, send)

    def _allowed(self, request: Request) -> bool:
        header = request.headers.get("authorization", "").encode()
        if header and hmac.compare_digest(header, self._bearer):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie, self._session)


_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:30rem;margin:4rem auto;padding:0 1rem}}
input{{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}}.error{{color:#b00020}}</style></head>
<body><h1>Sign in</h1><p class="error" role="alert">{message}</p>
<form method="post" action="/login"><label>API token
<input name="token" type="password" autocomplete="current-password" required autofocus></label>
<p><button>Sign in</button></p></form></body></html>"""


def login_route(token: str) -> Route:
    """``/login``: a form that takes the token and sets the session cookie."""

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(_LOGIN_PAGE.format(message=""))
        body = await read_body(request, 4096)
        given = parse_qs(body.decode(errors="replace")).get("token", [""])[0]
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HTMLResponse(_LOGIN_PAGE.format(message=html.escape("That is not the API token.")), 401)
        response = RedirectResponse("/", 303)
        response.set_cookie(
            COOKIE, session_value(token), httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )
        return response

    return Route("/login", login, methods=["GET", "POST"])

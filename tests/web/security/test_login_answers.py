"""/login answers an API client in JSON and a browser with the form; /session, in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from live_progress.launch.redis_server import RedisServer
from live_progress.web.security.access import COOKIE
from tests.support.inprocess import serve, web_settings

TOKEN = "login-token"
JSON = {"Accept": "application/json"}
# What Chromium sends when it follows a form.
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"}


@pytest.fixture
async def client(redis_server: RedisServer, audio_root: Path) -> AsyncIterator[httpx.AsyncClient]:
    url = redis_server.database_url(21)
    with Redis.from_url(url) as redis:
        redis.flushdb()  # no failed attempts left over from another test
    settings = web_settings(url, audio_root, api_token=TOKEN, login_max_failures=2, login_failure_window=60)
    async with serve(settings) as client:
        yield client


@pytest.mark.parametrize(
    ("accept", "wants_json"),
    [
        ("application/json", True),
        ("application/json, text/plain, */*", True),
        ("text/html, application/json;q=0.9", False),
        ("application/json;q=0.5, text/html;q=0.4", True),
        ("application/json;q=0", False),
        (BROWSER["Accept"], False),
        ("*/*", False),
        ("", False),
    ],
)
async def test_a_wrong_token_is_401_in_what_the_client_accepts(
    client: httpx.AsyncClient, accept: str, wants_json: bool
) -> None:
    answer = await client.post("/login", data={"token": "guess"}, headers={"Accept": accept})

    assert answer.status_code == 401
    if wants_json:
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {"error": "That is not the API token."}
    else:
        assert answer.headers["content-type"].startswith("text/html")
        assert "That is not the API token." in answer.text and "<form" in answer.text


async def test_too_many_wrong_tokens_is_429_json_with_retry_after(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await client.post("/login", data={"token": "guess"}, headers=JSON)).status_code == 401

    locked = await client.post("/login", data={"token": TOKEN}, headers=JSON)

    assert locked.status_code == 429
    assert locked.headers["content-type"] == "application/json"
    wait = int(locked.headers["retry-after"])
    assert 1 <= wait <= 60
    assert locked.json() == {"error": f"Too many wrong tokens from this address; try again in {wait} s."}
    assert COOKIE not in locked.headers.get("set-cookie", "")


async def test_too_many_wrong_tokens_is_the_form_with_the_message_to_a_browser(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        await client.post("/login", data={"token": "guess"}, headers=BROWSER)

    locked = await client.post("/login", data={"token": "guess"}, headers=BROWSER)

    assert locked.status_code == 429
    assert locked.headers["content-type"].startswith("text/html")
    assert "retry-after" in locked.headers
    assert "Too many wrong tokens from this address" in locked.text and "<form" in locked.text


async def test_a_json_sign_in_says_how_long_it_lasts(client: httpx.AsyncClient) -> None:
    signed_in = await client.post("/login", data={"token": TOKEN}, headers=JSON)

    assert signed_in.status_code == 200
    assert signed_in.json() == {"expires_in": 43_200}
    assert COOKIE in signed_in.cookies
    left = (await client.get("/session")).json()["expires_in"]
    assert 43_190 <= left <= 43_200


async def test_the_session_route_has_no_session_for_the_bearer_token(client: httpx.AsyncClient) -> None:
    answer = await client.get("/session", headers={"Authorization": f"Bearer {TOKEN}"})

    assert answer.json() == {"expires_in": None}


async def test_an_ended_session_is_401_json_at_the_session_route(client: httpx.AsyncClient) -> None:
    await client.post("/login", data={"token": TOKEN})
    cookie = client.cookies[COOKIE]
    signed_out = await client.post("/logout")
    assert (signed_out.status_code, signed_out.headers["location"]) == (303, "/login?reason=signed-out")

    replayed = await client.get("/session", headers={"Cookie": f"{COOKIE}={cookie}"})

    assert replayed.status_code == 401
    assert "API token" in replayed.json()["error"]


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("ended", "Your session has ended"),
        ("signed-out", "You have signed out."),
        ("<script>alert(1)</script>", None),
    ],
)
async def test_the_form_says_why_the_page_came_back(client: httpx.AsyncClient, reason: str, shown: str | None) -> None:
    page = await client.get("/login", params={"reason": reason})

    assert page.status_code == 200
    if shown:
        assert shown in page.text
    else:
        # Only the service's own texts: a link cannot write on the sign-in page.
        assert 'role="alert"></p>' in page.text and "alert(1)" not in page.text

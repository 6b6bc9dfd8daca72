"""API_TOKEN, sign-in sessions, CORS and the per-process stream cap, against real web processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from live_progress.launch.processes import start_web
from live_progress.launch.redis_server import RedisServer
from live_progress.web.security.access import COOKIE
from tests.conftest import ARTIFACTS
from tests.support.eventually import eventually

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
LIFETIME = 10  # seconds: the short_lived sign-ins and lock-outs


@pytest.fixture(scope="module")
def guarded(redis_server: RedisServer, audio_root: Path, service_env: dict[str, str]) -> Iterator[str]:
    # No worker listens on this database: tasks stay queued, so their streams stay open.
    env = {
        **service_env,
        "REDIS_URL": redis_server.database_url(6),
        "API_TOKEN": TOKEN,
        "CORS_ORIGINS": "https://allowed.example",
        "MAX_STREAMS": "2",
    }
    process, base_url = start_web(env, ARTIFACTS, name="web-access")
    yield base_url
    process.stop()


@pytest.fixture(scope="module")
def short_lived(redis_server: RedisServer, service_env: dict[str, str]) -> Iterator[str]:
    """Sign-ins that last LIFETIME seconds; three wrong tokens lock a client out for as long.
    Long enough that what a test does right after signing in (or failing) comes before the end
    on a busy machine; the end itself is waited for."""
    env = {
        **service_env,
        "REDIS_URL": redis_server.database_url(14),
        "API_TOKEN": TOKEN,
        "SESSION_MAX_AGE": str(LIFETIME),
        "LOGIN_MAX_FAILURES": "3",
        "LOGIN_FAILURE_WINDOW": str(LIFETIME),
    }
    process, base_url = start_web(env, ARTIFACTS, name="web-sessions")
    yield base_url
    process.stop()


@pytest.fixture
async def client(guarded: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=guarded, timeout=10) as client:
        yield client


async def sign_in(client: httpx.AsyncClient) -> str:
    """Signs in and returns the session cookie's value (the client keeps it too)."""
    response = await client.post("/login", data={"token": TOKEN})
    assert response.status_code == 303, response.text
    return response.cookies[COOKIE]


async def with_cookie(base_url: str, cookie: str) -> int:
    """The status of a guarded route for a fresh client that sends only ``cookie`` (a replay)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as fresh:
        return (await fresh.get("/openapi.json", headers={"Cookie": f"{COOKIE}={cookie}"})).status_code


async def submit(client: httpx.AsyncClient, audio_root: Path, **kwargs: object) -> httpx.Response:
    body = {"inputs": {"input_dir": {"path": str(audio_root / "batch")}}}
    return await client.post("/audio/transcribe", json=body, **kwargs)  # type: ignore[arg-type]


async def test_bearer_token_opens_every_route(client: httpx.AsyncClient, audio_root: Path) -> None:
    task = (await submit(client, audio_root, headers=BEARER)).json()
    assert (await client.get(task["result_url"])).status_code == 401
    assert (await client.get(task["result_url"], headers=BEARER)).json()["root"]["title"] == "status"
    async with client.stream("GET", task["events_url"], headers=BEARER) as stream:
        assert stream.status_code == 200
    assert (await client.delete(f"/audio/transcribe/{task['task_id']}", headers=BEARER)).status_code == 202


async def test_a_browser_signs_in_once_and_its_streams_carry_the_cookie(
    client: httpx.AsyncClient, audio_root: Path
) -> None:
    page = await client.get("/")
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert "<form" in (await client.get("/login")).text

    wrong = await client.post("/login", data={"token": "nope"})
    assert wrong.status_code == 401
    assert not client.cookies

    right = await client.post("/login", data={"token": TOKEN})
    assert right.status_code == 303
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert TOKEN not in cookie

    assert (await client.get("/")).status_code == 200
    task = (await submit(client, audio_root)).json()
    async with client.stream("GET", task["events_url"]) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
    await client.delete(f"/audio/transcribe/{task['task_id']}")
    client.cookies.clear()


async def test_each_sign_in_is_a_session_of_its_own(guarded: str, client: httpx.AsyncClient) -> None:
    first, second = await sign_in(client), await sign_in(client)

    assert first != second
    assert TOKEN not in first
    assert (await with_cookie(guarded, first), await with_cookie(guarded, second)) == (200, 200)


async def test_the_cookie_says_how_long_it_lasts(client: httpx.AsyncClient) -> None:
    response = await client.post("/login", data={"token": TOKEN})

    assert "Max-Age=43200" in response.headers["set-cookie"]


async def test_logout_ends_the_session_even_for_a_replayed_cookie(guarded: str, client: httpx.AsyncClient) -> None:
    cookie = await sign_in(client)
    assert (await client.get("/openapi.json")).status_code == 200

    response = await client.post("/logout")

    assert response.status_code == 303 and response.headers["location"] == "/login?reason=signed-out"
    assert f'{COOKIE}=""' in response.headers["set-cookie"] and "Max-Age=0" in response.headers["set-cookie"]
    assert (await client.get("/openapi.json")).status_code == 401
    assert await with_cookie(guarded, cookie) == 401


async def test_logout_ends_only_its_own_session(guarded: str) -> None:
    async with httpx.AsyncClient(base_url=guarded) as one, httpx.AsyncClient(base_url=guarded) as two:
        await sign_in(one)
        kept = await sign_in(two)

        assert (await one.post("/logout")).status_code == 303

        assert (await one.get("/openapi.json")).status_code == 401
        assert await with_cookie(guarded, kept) == 200


async def test_a_session_stops_working_after_session_max_age(short_lived: str) -> None:
    async with httpx.AsyncClient(base_url=short_lived, timeout=10) as client:
        cookie = await sign_in(client)
        assert f"Max-Age={LIFETIME}" in (await client.post("/login", data={"token": TOKEN})).headers["set-cookie"]
        assert await with_cookie(short_lived, cookie) == 200

        async def expired() -> bool:
            return await with_cookie(short_lived, cookie) == 401

        await eventually(expired, timeout=LIFETIME + 60)


async def test_repeated_wrong_tokens_get_429_with_retry_after(short_lived: str) -> None:
    async with httpx.AsyncClient(base_url=short_lived, timeout=10) as client:
        for _ in range(3):
            assert (await client.post("/login", data={"token": "guess"})).status_code == 401

        # Locked out: even the right token is refused, or the lock would tell a guess was right.
        locked = await client.post("/login", data={"token": TOKEN})

        assert locked.status_code == 429
        assert 1 <= int(locked.headers["retry-after"]) <= LIFETIME
        assert "Too many wrong tokens" in locked.text
        assert COOKIE not in locked.headers.get("set-cookie", "")

        async def let_in() -> bool:
            return (await client.post("/login", data={"token": TOKEN})).status_code == 303

        await eventually(let_in, timeout=LIFETIME + 60)


async def test_streams_past_the_cap_get_503_with_retry_after(client: httpx.AsyncClient, audio_root: Path) -> None:
    task = (await submit(client, audio_root, headers=BEARER)).json()
    url = task["events_url"]
    async with client.stream("GET", url, headers=BEARER) as one, client.stream("GET", url, headers=BEARER) as two:
        assert (one.status_code, two.status_code) == (200, 200)
        third = await client.get(url, headers=BEARER)
        assert third.status_code == 503
        assert third.headers["retry-after"] == "5"
        assert "limit of 2 streams" in third.json()["error"]

    async def slots_free() -> bool:
        return (await client.get("/healthz")).json()["streams"] == 0

    await eventually(slots_free, what="both stream slots given back")
    async with client.stream("GET", url, headers=BEARER) as again:
        assert again.status_code == 200
    await client.delete(f"/audio/transcribe/{task['task_id']}", headers=BEARER)


def test_a_browser_page_works_behind_the_token(browser: Browser, guarded: str, audio_root: Path) -> None:
    """The page signs in at /login; its EventSource then streams with the cookie alone."""
    context = browser.new_context(base_url=guarded)
    try:
        page = context.new_page()
        page.goto("/")
        assert page.url.endswith("/login")
        page.get_by_label("API token").fill(TOKEN)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{guarded}/")
        page.get_by_label("Folder of audio files").fill(str(audio_root / "batch"))
        page.get_by_role("button", name="Transcribe").click()
        job = page.get_by_role("article", name=str(audio_root / "batch"), exact=True)
        # No worker serves this database: the job stays queued, its state pushed over SSE.
        expect(job.locator(".transport")).to_have_text("Live updates over Server-Sent Events")
        expect(job.locator(".state")).to_have_text("Queued")
        job.get_by_role("button", name="Cancel").click()
        expect(job.locator(".state")).to_have_text("Cancelled")
    finally:
        context.close()


def sign_in_on_the_page(browser: Browser, base_url: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    page.goto("/")
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/")
    return context, page


def test_sign_out_ends_the_session_and_shows_the_form(browser: Browser, guarded: str) -> None:
    context, page = sign_in_on_the_page(browser, guarded)
    try:
        sign_out = page.get_by_role("button", name="Sign out")
        expect(sign_out).to_be_visible()

        sign_out.click()

        page.wait_for_url(f"{guarded}/login?reason=signed-out")
        expect(page.get_by_role("alert")).to_have_text("You have signed out.")
        # The session is over: the page is not served without signing in again.
        page.goto("/")
        assert page.url == f"{guarded}/login"
    finally:
        context.close()


def test_an_expired_session_brings_the_page_back_to_the_form(browser: Browser, short_lived: str) -> None:
    """SESSION_MAX_AGE=LIFETIME: the page goes back to the sign-in form by itself, with a message."""
    context, page = sign_in_on_the_page(browser, short_lived)
    try:
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()

        page.wait_for_url(f"{short_lived}/login?reason=ended", timeout=(LIFETIME + 60) * 1000)

        expect(page.get_by_role("alert")).to_contain_text("Your session has ended")
        expect(page.get_by_label("API token")).to_be_visible()
    finally:
        context.close()


def test_a_session_ended_elsewhere_brings_the_page_back_at_its_next_request(
    browser: Browser, guarded: str, audio_root: Path
) -> None:
    """Signed out in another tab: the page's next request (the folder field's suggestions, as
    one types) finds out, and the page goes to the form."""
    context, page = sign_in_on_the_page(browser, guarded)
    try:
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        other = context.new_page()
        other.goto("/")
        other.get_by_role("button", name="Sign out").click()
        other.wait_for_url(f"{guarded}/login?reason=signed-out")

        page.get_by_label("Folder of audio files").fill(str(audio_root / "batch"))

        page.wait_for_url(f"{guarded}/login?reason=ended")
        expect(page.get_by_role("alert")).to_contain_text("Your session has ended")
    finally:
        context.close()


def test_a_page_without_a_token_shows_no_sign_out(browser: Browser, web: str) -> None:
    page = browser.new_page(base_url=web)
    try:
        page.goto("/")
        expect(page.get_by_role("button", name="Transcribe")).to_be_enabled()
        expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    finally:
        page.close()

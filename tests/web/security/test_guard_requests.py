"""The Host allow-list and the cross-site checks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis import Redis

from live_progress.launch.redis_server import RedisServer
from live_progress.web.settings import Settings
from tests.support.inprocess import BASE, serve, web_settings

TOKEN = "guard-token"
ALLOWED_ORIGIN = "https://allowed.example"


@pytest.fixture(scope="module")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.database_url(12)


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


def settings_for(redis_url: str, audio_root: Path, api_token: str | None = None) -> Settings:
    return web_settings(redis_url, audio_root, cors_origins=(ALLOWED_ORIGIN,), api_token=api_token)


@pytest.fixture
async def client(redis_url: str, audio_root: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings_for(redis_url, audio_root)) as client:
        yield client


@pytest.fixture
async def guarded(redis_url: str, audio_root: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings_for(redis_url, audio_root, api_token=TOKEN)) as client:
        yield client


def body(audio_root: Path) -> bytes:
    return orjson.dumps({"inputs": {"input_dir": {"path": str(audio_root / "batch")}}, "parameters": {}})


def issued(redis: Redis) -> int:
    return len(redis.keys("live-progress:issued:*"))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/"),
        ("GET", "/static/api.js"),
        ("GET", "/openapi.json"),
        ("GET", f"/audio/transcribe/events/{uuid.uuid4()}"),
        ("GET", f"/audio/transcribe/result/{uuid.uuid4()}"),
        ("POST", "/audio/transcribe"),
        ("DELETE", f"/audio/transcribe/{uuid.uuid4()}"),
        ("OPTIONS", "/audio/transcribe"),
        ("GET", "/no/such/route"),
    ],
)
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "localhost.evil.example", "127.0.0.1.nip.io"])
async def test_a_foreign_host_is_400_json_naming_the_setting(
    client: httpx.AsyncClient, audio_root: Path, method: str, path: str, host: str
) -> None:
    content = body(audio_root) if method == "POST" else None
    headers = {"Host": host, "Content-Type": "application/json"}

    response = await client.request(method, path, content=content, headers=headers)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert "ALLOWED_HOSTS" in response.json()["error"]
    assert repr(host) in response.json()["error"]


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "LOCALHOST", "app.localhost:8000", "[::1]:8000"])
async def test_this_machines_names_are_answered(client: httpx.AsyncClient, host: str) -> None:
    response = await client.get("/healthz", headers={"Host": host})

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("headers", "status", "says"),
    [
        pytest.param({"Content-Type": "text/plain"}, 415, "it was sent 'text/plain'", id="text-plain"),
        pytest.param({"Content-Type": "text/plain;charset=UTF-8"}, 415, "'text/plain'", id="text-plain-charset"),
        pytest.param({}, 415, "it was sent none", id="no-content-type"),
        pytest.param({"Content-Type": "application/x-www-form-urlencoded"}, 415, "urlencoded", id="form"),
        pytest.param({"Content-Type": "multipart/form-data; boundary=x"}, 415, "multipart", id="multipart"),
        pytest.param({"Content-Type": "application/jsonx"}, 415, "jsonx", id="json-lookalike"),
        pytest.param(
            {"Content-Type": "text/plain", "Origin": "http://evil.example"}, 403, "evil.example", id="form-from-evil"
        ),
        pytest.param(
            {"Content-Type": "application/json", "Origin": "http://evil.example"}, 403, "CORS_ORIGINS", id="json-evil"
        ),
        pytest.param({"Content-Type": "application/json", "Origin": "null"}, 403, "'null'", id="opaque-origin"),
        pytest.param(
            {"Content-Type": "application/json", "Origin": "http://127.0.0.1:9999"}, 403, "9999", id="other-port"
        ),
        pytest.param(
            {"Content-Type": "application/json", "Origin": "https://127.0.0.1:8000"}, 403, "https", id="other-scheme"
        ),
        pytest.param(
            # An allowed Host name is still another origin: its pages may not send jobs here.
            {"Content-Type": "application/json", "Origin": "http://localhost:8000"},
            403,
            "localhost",
            id="other-local-name",
        ),
    ],
)
async def test_a_submission_another_site_could_send_creates_no_job(
    client: httpx.AsyncClient, redis: Redis, audio_root: Path, headers: dict[str, str], status: int, says: str
) -> None:
    before = issued(redis)

    response = await client.post("/audio/transcribe", content=body(audio_root), headers=headers)

    assert response.status_code == status, response.text
    assert says in response.json()["error"]
    assert issued(redis) == before


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Content-Type": "application/json"}, id="json"),
        pytest.param({"Content-Type": "application/json; charset=utf-8"}, id="json-charset"),
        pytest.param({"Content-Type": "Application/JSON"}, id="json-case"),
        pytest.param({"Content-Type": "application/json", "Origin": BASE}, id="own-origin"),
        pytest.param({"Content-Type": "application/json", "Origin": ALLOWED_ORIGIN}, id="cors-origin"),
    ],
)
async def test_json_from_the_service_itself_or_a_trusted_origin_starts_a_job(
    client: httpx.AsyncClient, redis: Redis, audio_root: Path, headers: dict[str, str]
) -> None:
    before = issued(redis)

    response = await client.post("/audio/transcribe", content=body(audio_root), headers=headers)

    assert response.status_code == 202, response.text
    assert issued(redis) == before + 1


@pytest.mark.parametrize(
    ("headers", "content", "status"),
    [
        pytest.param({"Origin": "http://evil.example"}, None, 403, id="evil-origin"),
        pytest.param({"Content-Type": "text/plain"}, b"{}", 415, id="text-body"),
        pytest.param({"Origin": BASE}, None, 404, id="own-origin-reaches-the-route"),
        pytest.param({}, None, 404, id="no-origin-reaches-the-route"),
    ],
)
async def test_cancel_is_guarded_too(
    client: httpx.AsyncClient, headers: dict[str, str], content: bytes | None, status: int
) -> None:
    response = await client.request("DELETE", f"/audio/transcribe/{uuid.uuid4()}", content=content, headers=headers)

    assert response.status_code == status
    assert "error" in response.json()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({"Content-Type": "application/x-www-form-urlencoded", "Origin": BASE}, 303, id="own-form"),
        pytest.param({"Content-Type": "application/x-www-form-urlencoded"}, 303, id="form-without-origin"),
        pytest.param(
            {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"}, 403, id="evil-form"
        ),
        pytest.param({"Content-Type": "text/plain", "Origin": BASE}, 415, id="text-plain"),
        pytest.param({"Content-Type": "application/json"}, 415, id="json"),
    ],
)
async def test_only_the_services_own_form_signs_in(
    guarded: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    response = await guarded.post("/login", content=f"token={TOKEN}".encode(), headers=headers)

    assert response.status_code == status
    assert ("live_progress_session" in response.headers.get("set-cookie", "")) is (status == 303)


async def test_another_site_cannot_sign_a_browser_out(guarded: httpx.AsyncClient) -> None:
    signed_in = await guarded.post("/login", data={"token": TOKEN})
    assert signed_in.status_code == 303

    refused = await guarded.post("/logout", headers={"Origin": "http://evil.example"})

    assert refused.status_code == 403
    assert (await guarded.get("/openapi.json")).status_code == 200


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param("not-a-session", id="garbage"),
        # What the cookie used to be: one HMAC of the token, the same for every sign-in, for ever.
        pytest.param("1c0c3f2b" * 8, id="old-fixed-hmac"),
        pytest.param("c2Vzc2lvbg.Zz1Abc.AAAAAAAAAAAAAAAAAAAAAAAAAAA", id="bad-signature"),
        pytest.param("ünïcode", id="non-ascii"),
    ],
)
async def test_a_cookie_this_service_did_not_sign_is_refused(guarded: httpx.AsyncClient, cookie: str) -> None:
    header = f"live_progress_session={cookie}".encode()

    response = await guarded.get("/openapi.json", headers={"Cookie": header})

    assert response.status_code == 401


async def test_a_cookie_signed_with_another_token_is_refused(redis_url: str, audio_root: Path) -> None:
    async with serve(settings_for(redis_url, audio_root, api_token="another-token")) as other:
        cookie = (await other.post("/login", data={"token": "another-token"})).cookies["live_progress_session"]
        assert (await other.get("/openapi.json")).status_code == 200
    async with serve(settings_for(redis_url, audio_root, api_token=TOKEN)) as guarded:
        response = await guarded.get("/openapi.json", headers={"Cookie": f"live_progress_session={cookie}"})
        assert response.status_code == 401


# Header values as a client can send them: latin-1, no control characters.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80)
# Cookies shaped like the service's own (itsdangerous: value.timestamp.signature), and any other.
signed_looking = st.builds(
    lambda *parts: ".".join(parts), *(st.text("ABCDEFabcdef0123456789-_=.", max_size=30) for _ in range(3))
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(cookie=signed_looking | header_text, bearer=st.none() | header_text)
async def test_whatever_credentials_are_sent_the_answer_is_401(
    guarded: httpx.AsyncClient, cookie: str, bearer: str | None
) -> None:
    headers = {"Cookie": f"live_progress_session={cookie}".encode("latin-1")}
    if bearer is not None:
        headers["Authorization"] = bearer.encode("latin-1")
    for method, path in [("GET", "/openapi.json"), ("GET", f"/audio/transcribe/result/{uuid.uuid4()}"), ("GET", "/")]:
        response = await guarded.request(method, path, headers=headers)
        if path == "/":
            assert response.status_code == 303  # to the sign-in form
            continue
        assert response.status_code == 401, response.text
        assert "API token" in response.json()["error"]


HEADER_NAMES = ["Host", "Origin", "Content-Type", "Last-Event-ID", "Cookie", "Authorization", "Accept", "X-Anything"]


@FUZZ
@given(headers=st.dictionaries(st.sampled_from(HEADER_NAMES), header_text, max_size=4))
async def test_whatever_headers_are_sent_no_answer_is_a_5xx(
    client: httpx.AsyncClient, audio_root: Path, headers: dict[str, str]
) -> None:
    sent = {name: value.encode("latin-1") for name, value in headers.items()}
    routes = [
        ("GET", f"/audio/transcribe/result/{uuid.uuid4()}", None),
        ("GET", f"/audio/transcribe/events/{uuid.uuid4()}", None),
        ("GET", f"/audio/transcribe/events?task_id={uuid.uuid4()}", None),
        ("DELETE", f"/audio/transcribe/{uuid.uuid4()}", None),
        ("POST", "/audio/transcribe", b"{}"),
        ("GET", "/healthz", None),
    ]
    for method, path, content in routes:
        response = await client.request(method, path, headers=sent, content=content)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/json"
            assert response.json()["error"]

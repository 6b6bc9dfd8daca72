"""Generated input to every route of every plugin, in-process against a real Redis: bodies,
Content-Types, task ids, query parameters, cursors (Last-Event-ID, last_event_id) and the
headers a browser or a careless client sends (Accept, Content-Type, Cookie, Origin). Never a
5xx; an error is JSON that says what was wrong.

The routes are the app's own (each DocumentedRoute, so a plugin's new endpoint is fuzzed without
a line here). A finished job of each endpoint, with segments, as a worker leaves it, is what
the generated cursors and headers are sent to: a cursor on a task that has segments is what
once reached Redis as a 503. The whole service under a real uvicorn is fuzzed from its
/openapi.json by bench/fuzz.py (tests/bench/test_fuzz_service.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import httpx
import pytest
from celery import Celery
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from live_progress.contract import segments_key
from live_progress.launch.redis_server import RedisServer
from live_progress.web.api.openapi import DocumentedRoute
from live_progress.web.app import create_app
from live_progress.web.engine.store import TaskStore
from live_progress.web.settings import Settings
from tests.web.conftest import DATABASE
from tests.web.engine.test_hub import celery_for

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
paths = st.one_of(st.text(), st.text().map(lambda t: "/" + t), st.sampled_from(["/", "/etc", "/tmp/..", "//", "/\x00"]))
# RescueBox-shaped bodies: inputs by the names the plugins use, each a path or a text.
inputs = st.dictionaries(
    st.sampled_from(["input_dir", "csv_file", "target"]) | st.text(max_size=8),
    st.fixed_dictionaries({"path": paths}) | st.fixed_dictionaries({"text": st.text(max_size=20)}) | json_values,
    max_size=3,
)
rescuebox_bodies = st.fixed_dictionaries({"inputs": inputs}, optional={"parameters": json_values})

# Header values as a client can send them: latin-1 without control characters.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60)
cursors = (
    header_text
    | st.from_regex(r"[0-9a-f]{14,17}(/[0-9]{0,22}-?[0-9]{0,22})?", fullmatch=True)
    | st.from_regex(r"[123]\.[A-Za-z0-9_=-]{0,40}", fullmatch=True)
)
media_types = header_text | st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "application/json; charset=nonsense",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "*/*",
        "",
    ]
)
client_headers = st.fixed_dictionaries(
    {},
    optional={
        "Last-Event-ID": cursors,
        "Accept": media_types | st.sampled_from(["text/event-stream", "text/event-stream;q=0", "application/*"]),
        "Content-Type": media_types,
        "Cookie": header_text | st.builds("live_progress_session={}".format, header_text),
        "Origin": header_text | st.sampled_from(["null", "http://127.0.0.1:8000", "https://evil.example", "file://"]),
    },
)
SEGMENTS = 3
RESULT = {"output_type": "text", "title": "done", "value": "all of it", "subtitle": None}


def documented_routes(settings: Settings) -> list[tuple[str, str]]:
    """(method, path) of every route the app documents, its plugins' included."""
    app = create_app(settings)
    return sorted(
        (method.upper(), route.path)
        for route in app.routes
        if isinstance(route, DocumentedRoute)
        for method in route.operations
    )


def submit_paths(routes: list[tuple[str, str]]) -> list[str]:
    return [path for method, path in routes if method == "POST"]


@dataclass(frozen=True)
class Finished:
    """A task an endpoint issued that published segments and then succeeded."""

    endpoint: str
    task_id: str


@pytest.fixture
def routes(settings: Settings) -> list[tuple[str, str]]:
    found = documented_routes(settings)
    # Both plugins are installed in the test environment; a route table without them fuzzes nothing.
    assert {"/audio/transcribe", "/audio/inspect", "/tabular/train"} <= set(submit_paths(found)), found
    return found


@pytest.fixture
def celery(redis_server: RedisServer) -> Iterator[Celery]:
    celery = celery_for(redis_server.database_url(DATABASE))
    yield celery
    celery.close()


@pytest.fixture
async def finished(
    redis_server: RedisServer, settings: Settings, celery: Celery, routes: list[tuple[str, str]]
) -> AsyncIterator[list[Finished]]:
    """One finished task per endpoint, written as the web records it and a worker leaves it."""
    redis = Redis.from_url(redis_server.database_url(DATABASE))
    store = TaskStore(redis, bytes(celery.backend.task_keyprefix), settings.result_expires)
    tasks = []
    for endpoint in submit_paths(routes):
        task_id = str(uuid.uuid4())
        await store.record_issued(task_id, endpoint)
        for n in range(SEGMENTS):
            await redis.xadd(segments_key(task_id), {"root": b'{"text":"segment %d"}' % n})
        celery.backend.store_result(task_id, RESULT, "SUCCESS")
        tasks.append(Finished(endpoint, task_id))
    yield tasks
    await redis.aclose()


def assert_answered_well(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/json", response.text
        assert response.json()["error"]


def url_for(path: str, task_id: str) -> str:
    """A route's path with its task id filled in, and the many-task stream's task_id parameter."""
    url = path.replace("{task_id}", task_id)
    if url.endswith("/events"):
        url += "?" + urlencode({"task_id": task_id})
    elif url.endswith("/files/" + task_id):
        url += "?name=transcript.txt"
    return url


@FUZZ
@given(body=json_values | rescuebox_bodies, pick=st.integers(min_value=0))
async def test_generated_json_bodies_to_every_submit(
    client: httpx.AsyncClient, routes: list[tuple[str, str]], body: object, pick: int
) -> None:
    submits = submit_paths(routes)
    response = await client.post(submits[pick % len(submits)], json=body)
    assert_answered_well(response)
    if response.status_code == 202:  # queued on a database no worker reads
        await client.delete(submits[pick % len(submits)] + "/" + response.json()["task_id"])


@FUZZ
@given(raw=st.binary(max_size=2048), media_type=media_types, pick=st.integers(min_value=0))
async def test_generated_raw_bodies_and_content_types_to_every_submit(
    client: httpx.AsyncClient, routes: list[tuple[str, str]], raw: bytes, media_type: str, pick: int
) -> None:
    submits = submit_paths(routes)
    headers = {"Content-Type": media_type.encode("latin-1")}
    assert_answered_well(await client.post(submits[pick % len(submits)], content=raw, headers=headers))


@FUZZ
@given(task_id=st.text(min_size=1, max_size=80) | st.uuids().map(str), pick=st.integers(min_value=0))
async def test_generated_task_ids_on_every_route_that_takes_one(
    client: httpx.AsyncClient, routes: list[tuple[str, str]], task_id: str, pick: int
) -> None:
    taking = [(method, path) for method, path in routes if "{task_id}" in path or path.endswith("/events")]
    method, path = taking[pick % len(taking)]
    response = await client.request(method, url_for(path, quote(task_id, safe="")))
    assert_answered_well(response)
    # A task id no endpoint issued is never echoed back unchecked in a stream.
    assert response.headers.get("content-type", "").split(";")[0] != "text/event-stream"


@FUZZ
@given(headers=client_headers, pick=st.integers(min_value=0), on_finished=st.booleans())
async def test_generated_headers_on_every_route(
    client: httpx.AsyncClient,
    routes: list[tuple[str, str]],
    finished: list[Finished],
    headers: dict[str, str],
    pick: int,
    on_finished: bool,
) -> None:
    method, path = routes[pick % len(routes)]
    task = next((task for task in finished if path.startswith(task.endpoint + "/")), None)
    task_id = task.task_id if task is not None and on_finished else str(uuid.uuid4())
    sent = {name: value.encode("latin-1") for name, value in headers.items()}
    content = b'{"inputs": {}}' if method == "POST" else None
    response = await client.request(method, url_for(path, task_id), headers=sent, content=content)
    assert_answered_well(response)
    if response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream"):
        # The finished stream: the rest of its segments, then its result; every id one it made.
        events = re.findall(r"^event: (\w+)$", response.text, re.M)
        assert events and events[-1] == "result", response.text
        assert len(events) <= SEGMENTS + 1
        ids = re.findall(r"^id: (.*)$", response.text, re.M)
        assert headers.get("Last-Event-ID") not in ids


@FUZZ
@given(cursor=cursors, by_header=st.booleans(), pick=st.integers(min_value=0))
async def test_generated_cursors_on_every_finished_stream(
    client: httpx.AsyncClient, finished: list[Finished], cursor: str, by_header: bool, pick: int
) -> None:
    task = finished[pick % len(finished)]
    for url in (f"{task.endpoint}/events/{task.task_id}", f"{task.endpoint}/events?task_id={task.task_id}"):
        if by_header:
            response = await client.get(url, headers={"Last-Event-ID": cursor.encode("latin-1")})
        elif "?" in url:
            response = await client.get(f"{url}&{urlencode({'last_event_id': cursor})}")
        else:
            continue  # the single-task stream reads the header only
        assert response.status_code in (200, 204, 400), response.text
        if response.status_code == 400:
            assert re.match(r"(Last-Event-ID|last_event_id) has value ", response.json()["error"])


@FUZZ
@given(
    name=st.text(max_size=60) | st.sampled_from(["../../etc/passwd", "/etc/passwd", "..", ".", "a/../../b", "\x00"]),
    prefix=paths,
    pick=st.integers(min_value=0),
)
async def test_generated_query_parameters(
    client: httpx.AsyncClient,
    routes: list[tuple[str, str]],
    finished: list[Finished],
    name: str,
    prefix: str,
    pick: int,
) -> None:
    downloads = [path for method, path in routes if "/files/" in path]
    folders = [path for method, path in routes if path.endswith("/folders")]
    assert downloads and folders
    download = downloads[pick % len(downloads)]
    task = next(task for task in finished if download.startswith(task.endpoint + "/"))
    response = await client.get(download.replace("{task_id}", task.task_id) + "?" + urlencode({"name": name}))
    assert_answered_well(response)
    assert response.status_code != 200, "the result lists no file, so no name is one"
    assert_answered_well(await client.get(folders[pick % len(folders)] + "?" + urlencode({"prefix": prefix})))

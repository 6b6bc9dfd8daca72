"""Many tasks over one stream (GET /audio/transcribe/events?task_id=...), against real processes."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.clients import Event, read_events, submit

pytestmark = pytest.mark.integration

EVENTS = "/audio/transcribe/events"


@pytest.fixture
async def client(service: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service, timeout=httpx.Timeout(30, read=90)) as client:
        yield client


def set_url(task_ids: list[str], last_event_id: str | None = None) -> str:
    query = [("task_id", task_id) for task_id in task_ids]
    if last_event_id:
        query.append(("last_event_id", last_event_id))
    return f"{EVENTS}?{urlencode(query)}"


def of_task(events: list[Event], task_id: str) -> list[Event]:
    return [e for e in events if e.data["task_id"] == task_id]


def assert_each_task_ends_once(events: list[Event], task_ids: list[str]) -> None:
    for task_id in task_ids:
        kinds = [e.event for e in of_task(events, task_id)]
        assert kinds and kinds[-1] in {"result", "error"}, (task_id, kinds)
        assert all(kind in {"status", "progress", "segment"} for kind in kinds[:-1]), (task_id, kinds)


async def test_one_stream_carries_every_task_to_its_end(client: httpx.AsyncClient, audio_root: Path) -> None:
    tasks = [await submit(client, audio_root / name) for name in ("batch", "with_corrupt", "long")]
    task_ids = [task["task_id"] for task in tasks]

    events = await read_events(client, set_url(task_ids))  # returns once the server ends it

    states = [e for e in events if e.event != "segment"]  # live results a task has already may come first
    assert {e.data["task_id"] for e in states[:3]} == set(task_ids), "the first states are each task's"
    assert all(set(e.data) == {"task_id", "root"} for e in events)
    assert_each_task_ends_once(events, task_ids)
    for task_id in task_ids:
        mine = of_task(events, task_id)
        seen = [e.data["root"]["percent"] for e in mine if e.event == "progress"]
        assert seen == sorted(seen), f"percent went back: {seen}"
        # The last event is exactly what polling says now.
        polled = (await client.get(f"/audio/transcribe/result/{task_id}")).json()
        assert mine[-1].data["root"] == polled["root"]
        # Never the same state twice in a row.
        roots = [e.data["root"] for e in mine]
        assert all(a != b for a, b in itertools.pairwise(roots)), roots
    assert len({e.id for e in events}) == len(events)


async def test_last_event_id_header_resumes_the_whole_set(client: httpx.AsyncClient, audio_root: Path) -> None:
    tasks = [await submit(client, audio_root / name) for name in ("long", "batch")]
    task_ids = [task["task_id"] for task in tasks]
    first = await read_events(client, set_url(task_ids), until="progress")
    had = {task_id: of_task(first, task_id)[-1].data for task_id in task_ids if of_task(first, task_id)}

    resumed = await read_events(client, set_url(task_ids), last_event_id=first[-1].id)

    for task_id, data in had.items():
        again = of_task(resumed, task_id)
        assert not again or again[0].data != data, f"{task_id}: resent the state the client had"
    assert_each_task_ends_once(first + resumed, task_ids)

    # A client that has every final event is told to stop: 204 ends EventSource's retries.
    response = await client.get(set_url(task_ids), headers={"Last-Event-ID": resumed[-1].id})
    assert response.status_code == 204


async def test_last_event_id_parameter_carries_positions_to_another_set(
    client: httpx.AsyncClient, audio_root: Path
) -> None:
    done = (await submit(client, audio_root / "batch"))["task_id"]
    old = await read_events(client, set_url([done]))
    assert old[-1].event == "result"

    # The page opens a stream for a bigger set with the last id of the old one.
    added = (await submit(client, audio_root / "with_corrupt"))["task_id"]
    new = await read_events(client, set_url([done, added], last_event_id=old[-1].id))

    assert of_task(new, done) == [], "the finished task's result was sent again"
    assert_each_task_ends_once(new, [added])
    # Every final event is had: 204, by parameter as by header.
    assert (await client.get(set_url([done, added], last_event_id=new[-1].id))).status_code == 204
    # The header, what EventSource sends on a reconnect, is newer than the parameter.
    replay = await read_events(client, set_url([done, added], last_event_id=new[-1].id), last_event_id="1.")
    assert {e.data["task_id"] for e in replay} == {done, added}


async def test_an_unknown_id_among_them_is_404_naming_it(client: httpx.AsyncClient, audio_root: Path) -> None:
    known = (await submit(client, audio_root / "batch"))["task_id"]
    unknown = str(uuid.uuid4())
    response = await client.get(set_url([known, unknown]))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert unknown in response.json()["error"] and known not in response.json()["error"]

    response = await client.get(set_url([known, "not-a-task"]))
    assert response.status_code == 400
    assert "task_id has value 'not-a-task'; it is not a task id" in response.json()["error"]


@pytest.mark.parametrize("query", ["", "?last_event_id=1.", "?task_id="])
async def test_a_stream_of_no_task_is_an_error(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(EVENTS + query)
    assert response.status_code == 400
    assert response.json()["error"]


async def test_more_ids_than_the_cap_is_400_naming_the_setting(client: httpx.AsyncClient) -> None:
    response = await client.get(set_url([str(uuid.uuid4()) for _ in range(101)]))
    assert response.status_code == 400
    assert "at most 100 (MAX_TASKS_PER_STREAM)" in response.json()["error"]

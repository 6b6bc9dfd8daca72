"""Where a client says it is in a task (Last-Event-ID, last_event_id): a finished job that
published segments, resumed well and badly, in-process against a real Redis.

A malformed cursor is the client's own 400, naming what it sent and what a cursor is; it
never reaches Redis (it once came back as ``503 Redis is unreachable: ... XRANGE ... Invalid
stream ID``), never comes back in an ``id:`` line, and harms no client reading at the same moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from celery import Celery
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from live_progress.contract import segments_key
from live_progress.launch.redis_server import RedisServer
from live_progress.web.engine.streaming import split_position
from live_progress.web.engine.task_set import decode_positions, encode_positions
from tests.web.conftest import DATABASE
from tests.web.engine.test_hub import celery_for

SEGMENTS = 5
RESULT = {"output_type": "text", "title": "done", "value": "all of it", "subtitle": None}


@dataclass(frozen=True)
class Frame:
    event: str
    id: str | None
    data: str


@dataclass(frozen=True)
class Job:
    task_id: str
    events_url: str
    set_url: str
    frames: tuple[Frame, ...]  # the whole stream, from the start


def frames_of(body: str) -> list[Frame]:
    """The events of a whole (buffered) SSE body."""
    frames = []
    for block in body.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields:
            frames.append(Frame(fields["event"], fields.get("id"), fields["data"]))
    return frames


@pytest.fixture
def celery(redis_server: RedisServer) -> Iterator[Celery]:
    celery = celery_for(redis_server.database_url(DATABASE))
    yield celery
    celery.close()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.database_url(DATABASE))
    yield client
    await client.aclose()


async def finished_job(
    client: httpx.AsyncClient, redis: Redis, celery: Celery, audio_root: Path, segments: int = SEGMENTS
) -> Job:
    """A job this service issued that published ``segments`` live results and then succeeded:
    what a worker leaves behind, written as it writes it."""
    submitted = await client.post("/audio/transcribe", json={"inputs": {"input_dir": {"path": str(audio_root)}}})
    assert submitted.status_code == 202, submitted.text
    task_id = submitted.json()["task_id"]
    for n in range(segments):
        await redis.xadd(segments_key(task_id), {"root": b'{"text":"segment %d"}' % n})
    celery.backend.store_result(task_id, RESULT, "SUCCESS")
    whole = await client.get(submitted.json()["events_url"])
    assert whole.status_code == 200, whole.text
    frames = frames_of(whole.text)
    assert [frame.event for frame in frames] == ["segment"] * segments + ["result"]
    set_url = f"/audio/transcribe/events?{urlencode({'task_id': task_id})}"
    return Job(task_id, submitted.json()["events_url"], set_url, tuple(frames))


@pytest.fixture
async def job(client: httpx.AsyncClient, redis: Redis, celery: Celery, audio_root: Path) -> Job:
    return await finished_job(client, redis, celery, audio_root / "batch")


def assert_refused(response: httpx.Response, name: str, sent: str) -> None:
    """A 400 that names the value sent (repr-quoted, cut short when long) and what is expected."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    shown = repr(sent)
    assert error.startswith(f"{name} has value {shown if len(shown) <= 80 else shown[:79] + '…'}; it must be")
    assert len(error) < 400, "the value is named, not echoed whole"


async def test_the_reported_xrange_cursor_is_the_clients_400_not_an_outage(client: httpx.AsyncClient, job: Job) -> None:
    response = await client.get(job.events_url, headers={"Last-Event-ID": "abc/notanid"})

    assert_refused(response, "Last-Event-ID", "abc/notanid")
    assert "16 lowercase hex digits" in response.json()["error"] and "<ms>-<seq>" in response.json()["error"]
    assert "Redis" not in response.json()["error"]
    # Counted as the client's error; nothing counted as an outage.
    errors = await error_counts(client)
    assert errors[("400", "client")] >= 1
    assert errors[("503", "outage")] == 0
    assert (await client.get("/healthz")).json()["status"] == "ok"


MALFORMED = [
    "abc/notanid",
    "notanid",
    "/notanid",
    "/",
    "0123456789abcdef/",
    "0123456789ABCDEF",
    "0123456789abcdef/1-2-3",
    "0123456789abcdef/1",
    "0123456789abcdef/18446744073709551616-0",
    "/0-18446744073709551616",
    "0123456789abcdef/+1-0",
    "0123456789abcdef/1_0-0",
    "2.AAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "0123456789abcdef/" + "9" * 5000,
]


@pytest.mark.parametrize("sent", MALFORMED, ids=range(len(MALFORMED)))
async def test_a_malformed_last_event_id_is_refused(client: httpx.AsyncClient, job: Job, sent: str) -> None:
    assert_refused(await client.get(job.events_url, headers={"Last-Event-ID": sent}), "Last-Event-ID", sent)


SET_MALFORMED = ["abc/notanid", "2.!!!", "3.AAAA", "2.A", "2.AAAA", "1.AAAA AAAA", "2.AAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]


@pytest.mark.parametrize("sent", SET_MALFORMED)
async def test_a_malformed_id_on_the_many_task_stream_is_refused(
    client: httpx.AsyncClient, job: Job, sent: str
) -> None:
    assert_refused(await client.get(job.set_url, headers={"Last-Event-ID": sent}), "Last-Event-ID", sent)
    as_parameter = f"{job.set_url}&{urlencode({'last_event_id': sent})}"
    assert_refused(await client.get(as_parameter), "last_event_id", sent)
    # The header wins over the parameter, but a malformed parameter is not passed over.
    good = job.frames[0].id
    assert good is not None
    response = await client.get(as_parameter, headers={"Last-Event-ID": encode_set_id(job, good)})
    assert_refused(response, "last_event_id", sent)


def encode_set_id(job: Job, single_id: str) -> str:
    """The many-task stream's id for where a single-task id says the client is."""
    return encode_positions({job.task_id: split_position(single_id)})


async def test_one_cursor_at_a_time(client: httpx.AsyncClient, job: Job) -> None:
    last = job.frames[-1].id
    assert last is not None
    twice = await client.get(job.events_url, headers=[("Last-Event-ID", last), ("Last-Event-ID", last)])
    assert twice.status_code == 400 and "send at most one" in twice.json()["error"]
    query = urlencode([("last_event_id", "2."), ("last_event_id", "2.")])
    assert (await client.get(f"{job.set_url}&{query}")).status_code == 400


def rest_after(job: Job, position: int) -> list[tuple[str, str]]:
    """What a client that had the stream's first ``position`` events is owed: the events and
    their data (not their ids: an id is a cursor, not an event's identity)."""
    return content(job.frames[position:])


def content(frames: Sequence[Frame]) -> list[tuple[str, str]]:
    return [(frame.event, frame.data) for frame in frames]


async def resumed(client: httpx.AsyncClient, job: Job, position: int) -> list[Frame]:
    last_id = job.frames[position - 1].id
    assert last_id is not None
    response = await client.get(job.events_url, headers={"Last-Event-ID": last_id})
    if position == len(job.frames):
        assert response.status_code == 204, response.text  # it has the final event
        return []
    assert response.status_code == 200, response.text
    return frames_of(response.text)


@pytest.mark.parametrize("position", range(1, SEGMENTS + 2))
async def test_a_good_cursor_resumes_where_the_client_was(client: httpx.AsyncClient, job: Job, position: int) -> None:
    assert content(await resumed(client, job, position)) == rest_after(job, position)


async def test_bad_cursors_harm_no_one_reading_at_the_same_moment(client: httpx.AsyncClient, job: Job) -> None:
    """A dozen malformed cursors and a dozen good resumes, on the same finished stream at the
    same moment (their segment reads share the engine's round trips), three times."""
    bad = (MALFORMED * 2)[:12]
    # Resumes from after each segment: every one is owed the rest of the segments and the result.
    good = [1 + n % SEGMENTS for n in range(12)]
    for _ in range(3):
        answers = await asyncio.gather(
            *(client.get(job.events_url, headers={"Last-Event-ID": sent}) for sent in bad),
            *(resumed(client, job, position) for position in good),
        )
        for sent, response in zip(bad, answers[: len(bad)], strict=True):
            assert_refused(response, "Last-Event-ID", sent)
        for position, frames in zip(good, answers[len(bad) :], strict=True):
            assert content(frames) == rest_after(job, position), position
            assert frames[-1].event == "result", position
    assert (await error_counts(client))[("503", "outage")] == 0


async def test_a_cursor_on_a_task_without_segments_comes_back_only_as_read(
    client: httpx.AsyncClient, redis: Redis, celery: Celery, audio_root: Path
) -> None:
    job = await finished_job(client, redis, celery, audio_root / "batch", segments=0)
    (result,) = job.frames
    assert result.id is not None and "/" not in result.id

    # A well-formed position that names a segment the task never had is sent back as read
    # (leading zeros gone, as Redis reads it); a malformed one never is.
    answer = await client.get(job.events_url, headers={"Last-Event-ID": "0123456789abcdef/007-01"})
    assert [frame.id for frame in frames_of(answer.text)] == [f"{result.id}/7-1"]
    sent = "0123456789abcdef/</script>\nevent: result\ndata: {}"
    assert_refused(await client.get(job.events_url, headers={"Last-Event-ID": sent}), "Last-Event-ID", sent)


async def test_a_good_many_task_id_resumes_both_ways(client: httpx.AsyncClient, job: Job) -> None:
    set_id = encode_set_id(job, job.frames[1].id or "")
    by_header = await client.get(job.set_url, headers={"Last-Event-ID": set_id})
    by_parameter = await client.get(f"{job.set_url}&{urlencode({'last_event_id': set_id})}")
    for response in (by_header, by_parameter):
        assert response.status_code == 200, response.text
        assert [frame.event for frame in frames_of(response.text)] == ["segment"] * (SEGMENTS - 2) + ["result"]
        for frame in frames_of(response.text):
            assert frame.id is not None and decode_positions(frame.id, [job.task_id])


# Header values as a client can send them: latin-1 without control characters.
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sent=header_values
    | st.from_regex(r"[0-9a-f]{14,17}(/[0-9]{0,22}-?[0-9]{0,22})?", fullmatch=True)
    | st.from_regex(r"[123]\.[A-Za-z0-9_=-]{0,40}", fullmatch=True)
)
async def test_whatever_cursor_is_sent_the_answer_is_a_stream_or_a_400(
    client: httpx.AsyncClient, job: Job, sent: str
) -> None:
    for url in (job.events_url, job.set_url):
        response = await client.get(url, headers={"Last-Event-ID": sent.encode("latin-1")})
        assert response.status_code in (200, 204, 400), response.text
        if response.status_code == 400:
            assert response.json()["error"].startswith("Last-Event-ID has value ")
        elif response.status_code == 200:
            parse = split_position if url == job.events_url else lambda raw: decode_positions(raw, [job.task_id])
            for frame in frames_of(response.text):
                assert frame.id is not None
                parse(frame.id)  # every id it sends is one it would read back


async def error_counts(client: httpx.AsyncClient) -> dict[tuple[str, str], float]:
    scraped = await client.get("/metrics")
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(scraped.text):
        for sample in family.samples:
            if sample.name == "live_progress_error_responses_total":
                counts[sample.labels["status"], sample.labels["kind"]] = sample.value
    return counts

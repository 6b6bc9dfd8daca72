"""Generated bodies, ids and paths sent to every route: never a 500, always JSON errors."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
paths = st.one_of(st.text(), st.text().map(lambda t: "/" + t), st.sampled_from(["/", "/etc", "/tmp/..", "//", "/\x00"]))
rescuebox_bodies = st.fixed_dictionaries(
    {"inputs": st.fixed_dictionaries({"input_dir": st.fixed_dictionaries({"path": paths})})},
    optional={"parameters": json_values},
)


@pytest.fixture(scope="module")
def client(service: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service, timeout=10) as client:
        yield client


def assert_answered_well(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]


@FUZZ
@given(body=json_values | rescuebox_bodies)
def test_generated_json_bodies(client: httpx.Client, body: object) -> None:
    response = client.post("/audio/transcribe", json=body)
    assert_answered_well(response)
    if response.status_code == 202:
        client.delete(f"/audio/transcribe/{response.json()['task_id']}")


@FUZZ
@given(raw=st.binary(max_size=2048))
def test_generated_raw_bodies(client: httpx.Client, raw: bytes) -> None:
    # Sent as JSON, so that the bytes reach the parser rather than stop at the 415.
    assert_answered_well(client.post("/audio/transcribe", content=raw, headers={"Content-Type": "application/json"}))


@FUZZ
@given(
    task_id=st.text(min_size=1, max_size=80) | st.uuids().map(str),
    route=st.sampled_from(["GET result", "GET events", "DELETE "]),
)
def test_generated_task_ids(client: httpx.Client, task_id: str, route: str) -> None:
    method, _, kind = route.partition(" ")
    prefix = f"/audio/transcribe/{kind}/" if kind else "/audio/transcribe/"
    assert_answered_well(client.request(method, prefix + quote(task_id, safe="")))

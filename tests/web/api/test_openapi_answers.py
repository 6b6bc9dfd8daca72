"""The OpenAPI document is true of real answers (its shape is checked in tests/web/api/test_openapi.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.support.clients import read_events

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(service: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service, timeout=30) as client:
        yield client


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def conforms(document: dict[str, Any], schema: dict[str, Any], instance: object) -> None:
    Draft202012Validator({**schema, "components": document["components"]}).validate(instance)


async def test_real_answers_match_their_schemas(
    client: httpx.AsyncClient, document: dict[str, Any], audio_root: Path
) -> None:
    paths = document["paths"]
    submitted = await client.post(
        "/audio/transcribe", json={"inputs": {"input_dir": {"path": str(audio_root / "batch")}}}
    )
    schema_202 = paths["/audio/transcribe"]["post"]["responses"]["202"]["content"]["application/json"]["schema"]
    conforms(document, schema_202, submitted.json())

    task = submitted.json()
    polling = paths["/audio/transcribe/result/{task_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    events = await read_events(client, task["events_url"])
    for event in events:
        conforms(document, polling["schema"], event.data)
    conforms(document, polling["schema"], (await client.get(task["result_url"])).json())

    error = await client.post("/audio/transcribe", json={})
    conforms(document, {"$ref": "#/components/schemas/Error"}, error.json())
    conforms(document, {"$ref": "#/components/schemas/Health"}, (await client.get("/healthz")).json())

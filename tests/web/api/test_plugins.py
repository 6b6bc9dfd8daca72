"""A plugin that is not audio, given to create_app: its routes, schema, checks and discovery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, Field

from live_progress import Endpoint, Input, InputError, Plugin, resolve_file
from live_progress.web.settings import Settings
from tests.support.inprocess import serve


class TextInput(BaseModel):
    text: str


class FileInput(BaseModel):
    path: str


class CountInputs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    table: FileInput
    column: TextInput


class CountParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(10, ge=1, le=100, title="Limit", description="Rows to count at most")


class CountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: CountInputs
    parameters: CountParameters = CountParameters()


def prepare(request: CountRequest, settings: Any) -> dict[str, Any]:
    path = resolve_file(request.inputs.table.path, settings.allowed_roots, "inputs.table.path")
    columns = path.read_text().splitlines()[0].split(",")
    column = request.inputs.column.text
    if column not in columns:
        raise InputError(
            f"inputs.column.text has value {column!r}, which is no column of the file ({', '.join(columns)})"
        )
    return {"path": str(path), "column": column, "limit": request.parameters.limit}


counter = Plugin(
    name="counter",
    title="Row counter",
    info="Counts rows",
    endpoints=(
        Endpoint(
            name="count",
            task="counter.count",
            request_model=CountRequest,
            prepare=prepare,
            title="Count rows",
            inputs=(Input("table", "A CSV file", "file"), Input("column", "Column", "text")),
            live_results=True,
        ),
    ),
)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings, plugins=[counter]) as client:
        yield client


@pytest.fixture
def table(audio_root: Path) -> Path:
    path = audio_root / "table.csv"
    path.write_text("name,size\na,1\nb,2\n")
    return path


async def test_a_plugin_endpoint_submits_and_is_polled(client: httpx.AsyncClient, table: Path) -> None:
    body = {"inputs": {"table": {"path": str(table)}, "column": {"text": "size"}}}
    submitted = await client.post("/counter/count", json=body)

    assert submitted.status_code == 202, submitted.text
    task = submitted.json()
    assert task["result_url"] == f"/counter/count/result/{task['task_id']}"
    polled = await client.get(task["result_url"])
    assert polled.json() == {
        "root": {"output_type": "text", "title": "status", "value": "Task status: PENDING", "subtitle": None}
    }
    # Issued by this endpoint only: another plugin's path does not know it.
    assert (await client.get(f"/audio/transcribe/result/{task['task_id']}")).status_code == 404


async def test_its_checks_answer_422_naming_the_value(client: httpx.AsyncClient, table: Path) -> None:
    body = {"inputs": {"table": {"path": str(table)}, "column": {"text": "colour"}}}
    answer = await client.post("/counter/count", json=body)

    assert answer.status_code == 422
    assert answer.json() == {
        "error": "inputs.column.text has value 'colour', which is no column of the file (name, size)"
    }


async def test_only_the_plugins_given_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.post("/audio/transcribe", json={})).status_code == 404
    listed = (await client.get("/api/plugins")).json()
    assert [plugin["plugin_name"] for plugin in listed] == ["counter"]
    assert listed[0]["endpoints"][0]["path"] == "counter/count"


async def test_its_task_schema_and_openapi_entry_come_from_the_declaration(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/counter/count/task_schema")).json()
    document = (await client.get("/openapi.json")).json()

    assert [i["key"] for i in schema["inputs"]] == ["table", "column"]
    assert schema["parameters"] == [
        {
            "key": "limit",
            "label": "Limit",
            "subtitle": "Rows to count at most",
            "value": {"parameter_type": "int", "default": 10, "min": 1, "max": 100},
        }
    ]
    assert {"/counter/count", "/counter/count/events/{task_id}", "/counter/api/routes"} <= set(document["paths"])
    routes = (await client.get("/counter/api/routes")).json()
    assert routes == [
        {
            "task_schema": "/counter/count/task_schema",
            "run_task": "/counter/count",
            "short_title": "Count rows",
            "order": 0,
        }
    ]


async def test_a_value_the_request_model_refuses_is_named_with_the_field(
    client: httpx.AsyncClient, table: Path
) -> None:
    body = {"inputs": {"table": {"path": str(table)}, "column": {"text": "size"}}, "parameters": {"limit": 0}}
    answer = await client.post("/counter/count", json=body)

    assert answer.status_code == 422
    assert answer.json() == {
        "error": "parameters.limit: 0 is not greater than or equal to 1",
        "fields": [{"field": "parameters.limit", "message": "0 is not greater than or equal to 1", "value": 0}],
    }

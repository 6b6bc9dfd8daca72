"""The tabular endpoint in the web process (in-process app, real Redis, no worker): its
task_schema and OpenAPI entry, and a 422 naming the field and the value for each bad request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from live_progress.launch.redis_server import RedisServer
from live_progress_tabular import plugin
from live_progress_tabular.shared import FAMILIES
from tests.support.inprocess import serve, web_settings


@pytest.fixture
async def client(redis_server: RedisServer, table_root: Path) -> AsyncIterator[httpx.AsyncClient]:
    # A database of its own: nothing consumes the jobs these tests queue.
    settings = web_settings(redis_server.database_url(30), table_root)
    async with serve(settings, plugins=[plugin]) as client:
        yield client


def body(path: Path | str, target: str = "species", **parameters: Any) -> dict[str, Any]:
    return {"inputs": {"csv_file": {"path": str(path)}, "target": {"text": target}}, "parameters": parameters}


async def test_a_good_request_is_queued(client: httpx.AsyncClient, table_root: Path) -> None:
    submitted = await client.post("/tabular/train", json=body(table_root / "iris.csv", family="svc", grid="1, 10"))

    assert submitted.status_code == 202, submitted.text
    task = submitted.json()
    assert task["events_url"] == f"/tabular/train/events/{task['task_id']}"
    polled = (await client.get(task["result_url"])).json()["root"]
    assert polled["value"] == "Task status: PENDING"


@pytest.mark.parametrize(
    ("file", "target", "parameters", "status", "expected"),
    [
        (
            "iris.csv",
            "kind",
            {},
            422,
            "inputs.target.text has value 'kind', which is no column of {path} (its columns: "
            "'sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'species')",
        ),
        ("iris.csv", "Species", {}, 422, "did you mean 'species'?"),
        ("iris.csv", " ", {}, 422, "inputs.target.text is empty"),
        (
            "people.csv",
            "label",
            {},
            422,
            "inputs.csv_file.path has value '{path}', whose column 'name' is not numeric "
            "(line 2 has 'Ann'): leave it out with parameters.ignore_columns",
        ),
        ("empty.csv", "label", {}, 422, "inputs.csv_file.path has value '{path}', which is empty"),
        (
            "header_only.csv",
            "label",
            {},
            422,
            "inputs.csv_file.path has value '{path}', which has a header ('a', 'b', 'label') but no data rows",
        ),
        (
            "picture.csv",
            "label",
            {},
            422,
            "inputs.csv_file.path has value '{path}', which is not a CSV file: it is not UTF-8 text",
        ),
        (
            "one_class.csv",
            "label",
            {},
            422,
            "inputs.target.text has value 'label', whose column holds one class only ('x' in all 10 rows)",
        ),
        (
            "rare_class.csv",
            "label",
            {"folds": 3},
            422,
            "parameters.folds has value 3, but the class 'y' of 'label' "
            "has only 2 rows and every fold must hold each class: choose at most 2 folds",
        ),
        ("prices.csv", "price", {}, 422, "inputs.target.text has value 'price', a column of 40 distinct numbers"),
        (
            "iris.csv",
            "species",
            {"ignore_columns": "petal_width, colour"},
            422,
            "parameters.ignore_columns has value ['petal_width', 'colour']: 'colour' is no column of {path}",
        ),
        (
            "iris.csv",
            "species",
            {"family": "xgboost"},
            422,
            "parameters.family: 'xgboost' is not one of " + ", ".join(FAMILIES),
        ),
        (
            "iris.csv",
            "species",
            {"grid": [0, 10]},
            422,
            "parameters.grid has value [0.0, 10.0] (random_forest), "
            "which has the value 0.0, but n_estimators must be at least 1",
        ),
        (
            "iris.csv",
            "species",
            {"family": "knn", "grid": "5, 200", "folds": 3},
            422,
            "parameters.grid has the value "
            "200, but knn's n_neighbors cannot exceed the 100 rows each of the 3 folds trains on",
        ),
        ("iris.csv", "species", {"folds": 11}, 422, "parameters.folds: 11 is not less than or equal to 10"),
        (
            "iris.csv",
            "species",
            {"depth": 3},
            422,
            "parameters.depth: no such field (sent 3); allowed: family, grid, folds, metric, ignore_columns, seed",
        ),
        ("missing.csv", "label", {}, 422, "inputs.csv_file.path has value '{path}', which does not exist"),
        ("folder.csv", "label", {}, 422, "inputs.csv_file.path has value '{path}', which is not a file"),
        (
            "/etc/hostname",
            "label",
            {},
            403,
            "inputs.csv_file.path has value '/etc/hostname', which lies outside the allowed folders",
        ),
    ],
    ids=[
        "no-such-column",
        "column-in-another-case",
        "empty-target",
        "text-feature",
        "empty-file",
        "no-data-rows",
        "not-a-csv",
        "single-class",
        "folds-above-smallest-class",
        "continuous-target",
        "ignore-unknown-column",
        "unknown-family",
        "grid-value-out-of-range",
        "knn-neighbours-above-a-fold",
        "folds-above-10",
        "unknown-parameter",
        "no-such-file",
        "a-folder",
        "outside-allowed-roots",
    ],
)
async def test_a_bad_request_names_the_field_and_the_value(
    client: httpx.AsyncClient,
    table_root: Path,
    file: str,
    target: str,
    parameters: dict[str, Any],
    status: int,
    expected: str,
) -> None:
    path = table_root / file
    answer = await client.post("/tabular/train", json=body(path, target, **parameters))

    assert answer.status_code == status, answer.text
    assert expected.format(path=path) in answer.json()["error"]


async def test_a_body_without_a_target_names_the_missing_input(client: httpx.AsyncClient, table_root: Path) -> None:
    answer = await client.post("/tabular/train", json={"inputs": {"csv_file": {"path": str(table_root / "iris.csv")}}})

    assert answer.status_code == 422
    assert answer.json()["error"] == "inputs.target: missing; this field is required"


async def test_the_task_schema_lists_the_inputs_and_the_parameters(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/tabular/train/task_schema")).json()

    assert [(i["key"], i["input_type"]) for i in schema["inputs"]] == [("csv_file", "file"), ("target", "text")]
    parameters = {p["key"]: p for p in schema["parameters"]}
    assert list(parameters) == ["family", "grid", "folds", "metric", "ignore_columns", "seed"]
    family = parameters["family"]
    assert family["label"] == "Model family"
    assert [v["key"] for v in family["value"]["enum_vals"]] == list(FAMILIES)
    assert family["value"]["default"] == "random_forest"
    assert parameters["folds"]["value"] == {"parameter_type": "int", "default": 5, "min": 2, "max": 10}
    assert parameters["grid"]["value"] == {"parameter_type": "text", "default": ""}
    assert "random_forest: n_estimators (25, 50, 100, 200)" in parameters["grid"]["subtitle"]
    assert [v["key"] for v in parameters["metric"]["value"]["enum_vals"]] == [
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
    ]
    assert all(p["label"] and p["subtitle"] for p in schema["parameters"])


async def test_the_openapi_document_describes_the_request(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()

    paths = set(document["paths"])
    assert {
        "/tabular/train",
        "/tabular/train/result/{task_id}",
        "/tabular/train/events/{task_id}",
        "/tabular/train/files/{task_id}",
        "/tabular/train/task_schema",
    } <= paths
    schemas = document["components"]["schemas"]
    assert set(schemas["TrainInputs"]["properties"]) == {"csv_file", "target"}
    assert set(schemas["TrainParameters"]["properties"]) == {
        "family",
        "grid",
        "folds",
        "metric",
        "ignore_columns",
        "seed",
    }
    assert schemas["TrainParameters"]["properties"]["folds"]["maximum"] == 10


async def test_the_plugin_is_listed_with_its_endpoint(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/api/plugins")).json()

    assert [p["plugin_name"] for p in listed] == ["tabular"]
    assert listed[0]["endpoints"][0]["path"] == "tabular/train"

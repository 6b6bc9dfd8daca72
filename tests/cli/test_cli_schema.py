"""The terminal client reads --input and --param per an endpoint's task_schema (GET /api/plugins)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from live_progress.cli.schema import EndpointInfo, UsageError, find_endpoint, parameter_value, request_body


def _enum(key: str, *keys: str) -> dict[str, Any]:
    vals = [{"key": k, "label": k.title()} for k in keys]
    return {"key": key, "label": key, "subtitle": "", "value": {"parameter_type": "enum", "enum_vals": vals}}


def _number(key: str, kind: str, low: float | None = None, high: float | None = None) -> dict[str, Any]:
    return {"key": key, "label": key, "value": {"parameter_type": kind, "default": None, "min": low, "max": high}}


PLUGINS = [
    {
        "plugin_name": "tabular",
        "endpoints": [
            {
                "path": "tabular/train",
                "title": "Train a model",
                "task_schema": {
                    "inputs": [
                        {"key": "csv_file", "label": "CSV file", "input_type": "file", "subtitle": ""},
                        {"key": "target", "label": "Target column", "input_type": "text", "subtitle": ""},
                    ],
                    "parameters": [
                        _enum("model", "forest", "logistic"),
                        _number("folds", "int", 2, 10),
                        _number("test_size", "float", 0.0, 1.0),
                        {"key": "grid", "label": "Grid", "value": {"parameter_type": "text", "default": ""}},
                    ],
                },
                "live_results": True,
                "downloads": True,
            }
        ],
    },
    {
        "plugin_name": "audio",
        "endpoints": [
            {
                "path": "audio/inspect",
                "title": "Inspect audio files",
                "task_schema": {
                    "inputs": [{"key": "input_dir", "label": "Folder", "input_type": "directory"}],
                    "parameters": [],
                },
            }
        ],
    },
]
ENDPOINTS = EndpointInfo.listed(PLUGINS)
TRAIN = ENDPOINTS[0]


def test_endpoints_are_listed_in_the_services_order_with_their_schemas() -> None:
    assert [e.path for e in ENDPOINTS] == ["tabular/train", "audio/inspect"]
    assert (TRAIN.title, TRAIN.live_results, TRAIN.downloads) == ("Train a model", True, True)
    assert [spec["key"] for spec in TRAIN.inputs] == ["csv_file", "target"]
    assert find_endpoint(ENDPOINTS, "/audio/inspect/") is ENDPOINTS[1]


def test_an_unknown_endpoint_lists_what_the_service_offers() -> None:
    with pytest.raises(UsageError) as raised:
        find_endpoint(ENDPOINTS, "audio/transcribe")
    message = str(raised.value)
    assert "'audio/transcribe'" in message
    assert "tabular/train --input csv_file=FILE --input target=TEXT [--param model=forest|logistic]" in message
    assert "audio/inspect --input input_dir=DIRECTORY  (Inspect audio files)" in message


def test_inputs_are_typed_paths_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    body = request_body(TRAIN, ["csv_file=data/iris.csv", "target=species"], ["folds=3", "model=logistic"])
    assert body == {
        "inputs": {"csv_file": {"path": str(tmp_path / "data" / "iris.csv")}, "target": {"text": "species"}},
        "parameters": {"folds": 3, "model": "logistic"},
    }
    inspect = request_body(ENDPOINTS[1], ["input_dir=~/audio"], [])
    assert inspect["inputs"]["input_dir"]["path"] == str(Path("~/audio").expanduser())


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("3", 3),
        ("0.25", 0.25),
        ("forest", "forest"),
        ("1, 2, 3", "1, 2, 3"),
        ("a=b", "a=b"),  # only the first = splits
    ],
)
def test_parameters_are_typed_as_their_schema_says(raw: str, value: Any) -> None:
    key = {3: "folds", 0.25: "test_size", "forest": "model"}.get(value, "grid")
    assert request_body(TRAIN, ["csv_file=/x.csv", "target=y"], [f"{key}={raw}"])["parameters"] == {key: value}


@pytest.mark.parametrize(
    ("inputs", "params", "message"),
    [
        (["csv_file=/x.csv"], [], "tabular/train needs --input target=… (Target column)"),
        (
            ["csv_file=/x.csv", "target=y", "colour=red"],
            [],
            "--input 'colour': tabular/train has no such input (it has: csv_file, target)",
        ),
        (["csv_file"], [], "--input has value 'csv_file'; write it as KEY=VALUE"),
        (["csv_file=", "target=y"], [], "--input csv_file is empty; give the path of a file"),
        (["csv_file=/x", "target=y"], ["folds=three"], "--param folds has value 'three'; it must be a whole number"),
        (["csv_file=/x", "target=y"], ["folds=2.5"], "--param folds has value '2.5'; it must be a whole number"),
        (["csv_file=/x", "target=y"], ["folds=11"], "--param folds has value '11'; it must be between 2 and 10"),
        (["csv_file=/x", "target=y"], ["test_size=big"], "--param test_size has value 'big'; it must be a number"),
        (
            ["csv_file=/x", "target=y"],
            ["model=tree"],
            "--param model has value 'tree'; it must be one of forest, logistic",
        ),
        (
            ["csv_file=/x", "target=y"],
            ["depth=3"],
            "--param 'depth': tabular/train has no such param (it has: model, folds, test_size, grid)",
        ),
    ],
)
def test_what_does_not_fit_the_schema_is_named(inputs: list[str], params: list[str], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        request_body(TRAIN, inputs, params)
    assert str(raised.value) == message


def test_an_input_type_this_client_cannot_send_is_named() -> None:
    (batch,) = EndpointInfo.listed(
        [{"endpoints": [{"path": "p/e", "task_schema": {"inputs": [{"key": "many", "input_type": "batchfile"}]}}]}]
    )
    with pytest.raises(UsageError, match="--input many is of type 'batchfile'"):
        request_body(batch, ["many=/a"], [])


def test_an_open_range_has_no_bound() -> None:
    assert parameter_value(_number("n", "int", 1, None), "1000000") == 1_000_000
    with pytest.raises(UsageError, match="between 1 and …"):
        parameter_value(_number("n", "int", 1, None), "0")

"""The plugin API's pure parts: declarations, RescueBox parameters from a model, input paths,
and finding installed plugins through their entry points (real distributions on sys.path)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

import pytest
from celery import Celery
from pydantic import BaseModel, Field

from live_progress import Endpoint, InputError, Plugin, rescuebox_parameters, resolve_file, resolve_folder
from live_progress.plugins import PluginError, load_plugins
from live_progress.worker.main import create_worker_app
from live_progress.worker.settings import WorkerSettings


class Grid(BaseModel):
    family: Literal["forest", "linear"] = Field("forest", title="Model family", description="What to fit")
    folds: int = Field(5, ge=2, le=10, title="Folds")
    alpha: float = Field(0.5, gt=0)
    shuffle: bool = True
    values: list[int] = [1, 2]
    note: str = ""


class GridRequest(BaseModel):
    inputs: dict[str, dict[str, str]] = {}
    parameters: Grid = Grid()


def test_parameters_come_from_the_model_fields() -> None:
    assert rescuebox_parameters(Grid) == (
        {
            "key": "family",
            "label": "Model family",
            "subtitle": "What to fit",
            "value": {
                "parameter_type": "enum",
                "enum_vals": [{"key": "forest", "label": "forest"}, {"key": "linear", "label": "linear"}],
                "message_when_empty": None,
                "default": "forest",
            },
        },
        {
            "key": "folds",
            "label": "Folds",
            "subtitle": "",
            "value": {"parameter_type": "int", "default": 5, "min": 2, "max": 10},
        },
        {
            "key": "alpha",
            "label": "Alpha",
            "subtitle": "",
            "value": {"parameter_type": "float", "default": 0.5, "min": 0, "max": None},
        },
        {
            "key": "shuffle",
            "label": "Shuffle",
            "subtitle": "",
            "value": {
                "parameter_type": "enum",
                "enum_vals": [{"key": "false", "label": "No"}, {"key": "true", "label": "Yes"}],
                "message_when_empty": None,
                "default": "true",
            },
        },
        {"key": "values", "label": "Values", "subtitle": "", "value": {"parameter_type": "text", "default": "1, 2"}},
        {"key": "note", "label": "Note", "subtitle": "", "value": {"parameter_type": "text", "default": ""}},
    )


def test_an_endpoint_without_parameters_derives_them_from_its_request_model() -> None:
    endpoint = Endpoint(name="fit", task="grid.fit", request_model=GridRequest)

    assert [p["key"] for p in endpoint.task_schema()["parameters"]] == [
        "family",
        "folds",
        "alpha",
        "shuffle",
        "values",
        "note",
    ]


@pytest.mark.parametrize("name", ["", "a/b"])
def test_a_name_that_is_not_one_path_segment_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match=f"Endpoint name has value {name!r}"):
        Endpoint(name=name, task="t", request_model=GridRequest)
    with pytest.raises(ValueError, match=f"Plugin name has value {name!r}"):
        Plugin(name=name, title="t", info="", endpoints=())


def test_a_plugin_with_two_endpoints_of_one_name_is_refused() -> None:
    endpoint = Endpoint(name="fit", task="grid.fit", request_model=GridRequest)
    with pytest.raises(ValueError, match="declares an endpoint name twice"):
        Plugin(name="grid", title="Grid", info="", endpoints=(endpoint, endpoint))


def test_input_paths_name_the_field_and_the_value(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a\n1\n")
    roots = (tmp_path,)

    assert resolve_file(str(tmp_path / "data.csv"), roots, "inputs.csv.path") == tmp_path / "data.csv"
    assert resolve_folder(str(tmp_path), roots, "inputs.dir.path") == tmp_path
    with pytest.raises(InputError, match=r"inputs.csv.path has value '.*', which is not a file"):
        resolve_file(str(tmp_path), roots, "inputs.csv.path")
    with pytest.raises(InputError, match=r"inputs.dir.path has value '.*data.csv', which is not a folder"):
        resolve_folder(str(tmp_path / "data.csv"), roots, "inputs.dir.path")
    with pytest.raises(InputError, match=r"inputs.csv.path has value 'data.csv'; it must be an absolute path"):
        resolve_file("data.csv", roots, "inputs.csv.path")
    with pytest.raises(InputError, match=r"which lies outside the allowed folders") as outside:
        resolve_file("/etc/hostname", roots, "inputs.csv.path")
    assert outside.value.status_code == 403


def _install(site: Path, name: str, target: str) -> None:
    """A distribution whose entry point names ``target``, found on sys.path as pip leaves one."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[live_progress.plugins]\n{name} = {target}\n")


grid_plugin = Plugin(
    name="grid",
    title="Grid",
    info="A grid search",
    endpoints=(Endpoint(name="fit", task="grid.fit", request_model=GridRequest),),
)


def test_installed_plugins_load_and_a_setting_narrows_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path, "grid", "tests.test_plugin_api:grid_plugin")
    monkeypatch.syspath_prepend(str(tmp_path))

    assert {plugin.name for plugin in load_plugins()} >= {"audio", "grid"}
    assert [(plugin.name, plugin.info) for plugin in load_plugins(["grid"])] == [("grid", "A grid search")]


def test_a_plugin_that_fails_to_load_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path, "broken", "no_such_module_anywhere:plugin")
    _install(tmp_path, "notaplugin", "tests.test_plugin_api:GridRequest")
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(PluginError, match=r"Plugin 'broken' \(no_such_module_anywhere:plugin\) failed to load"):
        load_plugins(["broken"])
    with pytest.raises(PluginError, match=r"Plugin 'notaplugin' .* is a ModelMetaclass, not a Plugin"):
        load_plugins(["notaplugin"])
    with pytest.raises(PluginError, match=r"PLUGINS names 'nope', which is not installed \(installed: .*audio"):
        load_plugins(["nope"])
    assert "no_such_module_anywhere" not in sys.modules


def test_a_worker_app_needs_the_redis_result_backend() -> None:
    settings = WorkerSettings(celery_result_backend="rpc://", metrics_port=0)
    with pytest.raises(RuntimeError, match=r"needs Celery's Redis result backend; .*'rpc://'"):
        create_worker_app(settings, plugins=[])


def test_a_worker_app_registers_each_plugins_tasks() -> None:
    celery: Celery = create_worker_app(WorkerSettings(metrics_port=0), plugins=load_plugins(["audio"]))
    try:
        assert {"audio.transcribe", "audio.inspect", "audio.transcribe.help"} <= set(celery.tasks)
    finally:
        celery.close()

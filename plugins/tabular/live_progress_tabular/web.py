"""The tabular plugin's web half: what a training request looks like and how it is checked
before a job is queued. No scikit-learn, numpy or joblib here: the web never imports them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from live_progress import InputError, resolve_file
from live_progress_tabular.parameters import TrainParameters
from live_progress_tabular.settings import tabular_settings
from live_progress_tabular.shared import CSV_FIELD, TARGET_FIELD
from live_progress_tabular.table import TableError, check_classes, check_neighbors, read_table


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FileInput(_Strict):
    path: str


class TextInput(_Strict):
    text: str


class TrainInputs(_Strict):
    csv_file: FileInput
    target: TextInput


class TrainRequest(_Strict):
    """A RescueBox request body: a CSV file, the column to predict, and the parameters."""

    inputs: TrainInputs
    parameters: TrainParameters = TrainParameters()


def prepare_training(request: TrainRequest, settings: Any) -> dict[str, Any]:
    """The task's kwargs, once the file, its columns and the parameters fit together; the file's
    first TABULAR_CHECK_ROWS rows are read (the worker checks the rest)."""
    raw = request.inputs.csv_file.path
    path = resolve_file(raw, settings.allowed_roots, CSV_FIELD)
    target = request.inputs.target.text.strip()
    if not target:
        raise InputError(f"{TARGET_FIELD} is empty; name the column to predict")
    parameters = request.parameters
    try:
        grid = parameters.grid_values()
        table = read_table(
            path, target, parameters.ignore_columns, name=raw, limit=tabular_settings().tabular_check_rows, keep=False
        )
        check_classes(table, parameters.folds)
        check_neighbors(table, parameters.family, grid, parameters.folds)
    except (TableError, ValueError) as exc:
        raise InputError(str(exc)) from exc
    return {"csv_file": str(path), "target": target, **parameters.task_kwargs()}

"""The training parameters: defaults, what RescueBox clients send as text, and the grid each
family tries."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from live_progress_tabular.parameters import TrainParameters
from live_progress_tabular.shared import FAMILIES, KNOBS


def test_defaults_train_a_random_forest_on_five_folds() -> None:
    parameters = TrainParameters()

    assert (parameters.family, parameters.folds, parameters.metric, parameters.seed) == (
        "random_forest",
        5,
        "accuracy",
        0,
    )
    assert parameters.grid_values() == (25, 50, 100, 200)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_has_a_default_grid_of_its_knob(family: str) -> None:
    assert TrainParameters(family=family).grid_values() == KNOBS[family].default  # type: ignore[arg-type]


def test_text_parameters_are_split_at_commas_as_rescuebox_clients_send_them() -> None:
    parameters = TrainParameters.model_validate(
        {"family": "svc", "grid": "0.5, 2,,8", "ignore_columns": "id, name", "folds": "3"}
    )

    assert parameters.grid_values() == (0.5, 2.0, 8.0)
    assert parameters.ignore_columns == ["id", "name"]
    assert parameters.folds == 3


def test_the_task_is_sent_every_parameter_with_the_grid_it_will_try() -> None:
    assert TrainParameters(family="knn", grid=[5, 5, 3]).task_kwargs() == {
        "family": "knn",
        "grid": [5, 3],
        "folds": 5,
        "metric": "accuracy",
        "ignore_columns": [],
        "seed": 0,
    }


@pytest.mark.parametrize(
    ("family", "grid", "expected"),
    [
        (
            "random_forest",
            [10, 2.5],
            "parameters.grid has value [10.0, 2.5] (random_forest), which has the value 2.5, "
            "but n_estimators must be a whole number",
        ),
        ("knn", [0], "which has the value 0.0, but n_neighbors must be at least 1"),
        ("svc", [1, 0], "which has the value 0.0, but C must be more than 0"),
        ("logistic_regression", [-1], "which has the value -1.0, but C must be more than 0"),
        ("decision_tree", list(range(1, 25)), "which has 24 values; give at most 20"),
    ],
)
def test_a_grid_value_the_family_cannot_take_is_named(family: str, grid: list[float], expected: str) -> None:
    with pytest.raises(ValueError) as raised:
        TrainParameters(family=family, grid=grid).grid_values()  # type: ignore[arg-type]

    assert expected in str(raised.value)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("family", "xgboost", "'random_forest', 'logistic_regression'"),
        ("metric", "auc", "'accuracy', 'balanced_accuracy' or 'f1_macro'"),
    ],
)
def test_an_unknown_choice_is_named_with_the_choices(field: str, value: str, expected: str) -> None:
    with pytest.raises(ValidationError) as raised:
        TrainParameters.model_validate({field: value})

    # The web's 422 names the value from these (live_progress/web/api/invalid.py).
    error = raised.value.errors()[0]
    assert (error["loc"], error["input"], error["type"]) == ((field,), value, "literal_error")
    assert expected in error["ctx"]["expected"]

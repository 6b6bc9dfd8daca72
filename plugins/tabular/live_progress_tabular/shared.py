"""What the plugin's two halves agree on: the task's name, the model families and the value each
tries, the scores, the request's field names, and how a candidate reads as one line.
Standard library only: the web imports it."""

from __future__ import annotations

import math
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

TRAIN_TASK = "tabular.train"

Family = Literal["random_forest", "logistic_regression", "gradient_boosting", "svc", "knn", "decision_tree"]
FAMILIES: tuple[str, ...] = typing.get_args(Family)
# Scores of each fold's held-out rows; the ``metric`` parameter ranks candidates by one of them.
Metric = Literal["accuracy", "balanced_accuracy", "f1_macro"]
METRICS: tuple[str, ...] = typing.get_args(Metric)

# The request's fields, as error messages name them.
CSV_FIELD = "inputs.csv_file.path"
TARGET_FIELD = "inputs.target.text"
FOLDS_FIELD = "parameters.folds"
GRID_FIELD = "parameters.grid"
IGNORE_FIELD = "parameters.ignore_columns"

MAX_GRID = 20


@dataclass(frozen=True, slots=True)
class Knob:
    """The hyper-parameter a family's grid varies: its scikit-learn name, whether it is a whole
    number, its least value, and the values tried when the request gives none."""

    name: str
    whole: bool
    minimum: float
    default: tuple[float, ...]
    # Whether ``minimum`` itself is allowed (C must be more than 0; n_estimators may be 1).
    inclusive: bool = True

    def values(self, grid: Iterable[float]) -> tuple[int | float, ...]:
        """The grid as the task tries it (the default when empty, each value once), or a
        ValueError naming the first value this knob cannot take."""
        given = tuple(grid) or self.default
        if len(given) > MAX_GRID:
            raise ValueError(f"has {len(given)} values; give at most {MAX_GRID}")
        checked: list[int | float] = []
        for value in given:
            if not math.isfinite(value) or (self.whole and not float(value).is_integer()):
                kind = "a whole number" if self.whole else "a finite number"
                raise ValueError(f"has the value {value!r}, but {self.name} must be {kind}")
            if value < self.minimum or (value == self.minimum and not self.inclusive):
                bound = "at least" if self.inclusive else "more than"
                raise ValueError(f"has the value {value!r}, but {self.name} must be {bound} {self.minimum:g}")
            checked.append(int(value) if self.whole else float(value))
        return tuple(dict.fromkeys(checked))


KNOBS: dict[str, Knob] = {
    "random_forest": Knob("n_estimators", whole=True, minimum=1, default=(25, 50, 100, 200)),
    "logistic_regression": Knob("C", whole=False, minimum=0, default=(0.01, 0.1, 1, 10), inclusive=False),
    "gradient_boosting": Knob("learning_rate", whole=False, minimum=0, default=(0.03, 0.1, 0.3), inclusive=False),
    "svc": Knob("C", whole=False, minimum=0, default=(0.1, 1, 10), inclusive=False),
    "knn": Knob("n_neighbors", whole=True, minimum=1, default=(3, 5, 11, 21)),
    "decision_tree": Knob("max_depth", whole=True, minimum=1, default=(2, 4, 8, 16)),
}


def model_file_name(csv_stem: str, family: str) -> str:
    """Where the best model goes, beside the CSV: ``iris.random_forest.joblib``."""
    return f"{csv_stem}.{family}.joblib"


def params_text(params: Mapping[str, Any]) -> str:
    """``n_estimators=100``."""
    return " ".join(
        f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}" for name, value in params.items()
    )


def candidate_line(root: Mapping[str, Any], metric: str) -> str:
    """How a candidate's scores read as one line: ``n_estimators=100: accuracy 0.93 ± 0.02 (5 folds)``."""
    score = root["scores"][metric]
    return f"{params_text(root['params'])}: {metric} {score['mean']:.3f} ± {score['std']:.3f} ({root['folds']} folds)"

"""The parameters of ``POST /tabular/train``: how they are checked and described. The web
validates a request with them, the worker its task's keyword arguments (pydantic only)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from live_progress_tabular.shared import GRID_FIELD, KNOBS, METRICS, Family, Metric


def _knobs() -> str:
    return "; ".join(
        f"{family}: {knob.name} ({', '.join(f'{value:g}' for value in knob.default)})" for family, knob in KNOBS.items()
    )


class TrainParameters(BaseModel):
    """RescueBox ``parameters`` of a training job; every one optional."""

    model_config = ConfigDict(extra="forbid")

    family: Family = Field(
        default="random_forest",
        title="Model family",
        description="The scikit-learn classifier to fit: random forest, logistic regression, histogram gradient "
        "boosting, support vector machine (RBF), k nearest neighbours or a decision tree",
    )
    grid: list[float] = Field(
        default_factory=list,
        title="Values to try",
        description=f"Values of the family's main hyper-parameter, comma-separated; empty: {_knobs()}",
    )
    folds: int = Field(default=5, ge=2, le=10, title="Folds", description="Stratified cross-validation folds (2 to 10)")
    metric: Metric = Field(
        default="accuracy", title="Rank by", description=f"The score that ranks the candidates: {', '.join(METRICS)}"
    )
    ignore_columns: list[str] = Field(
        default_factory=list,
        title="Columns to leave out",
        description="Columns that are not features (ids, names, free text), comma-separated",
    )
    seed: int = Field(
        default=0, ge=0, le=2**32 - 1, title="Random seed", description="Folds' shuffle and models' randomness"
    )

    @field_validator("grid", "ignore_columns", mode="before")
    @classmethod
    def _split_text(cls, value: Any) -> Any:
        # A RescueBox client sends a text parameter: "10, 50" is [10, 50].
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def grid_values(self) -> tuple[int | float, ...]:
        """The values the task tries, or a ValueError naming the grid and the value it cannot take."""
        try:
            return KNOBS[self.family].values(self.grid)
        except ValueError as exc:
            raise ValueError(f"{GRID_FIELD} has value {self.grid!r} ({self.family}), which {exc}") from None

    def task_kwargs(self) -> dict[str, Any]:
        """What the task is sent: every parameter, the grid as it will be tried."""
        return {**self.model_dump(), "grid": list(self.grid_values())}

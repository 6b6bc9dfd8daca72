"""The grid search: each candidate (one value of the family's hyper-parameter) cross-validated
fold by fold on stratified folds, then the best refitted on every row.

Progress is reported before each fit; a candidate's scores go out the moment its last fold is
scored; a stop request is honoured between fits by raising ``Stopped`` with a JSON checkpoint
(the candidates done and the folds done of the next), which ``search`` resumes from. The folds
and the models are seeded, so a resumed search scores exactly what an uninterrupted one would.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from live_progress import progress_meta
from live_progress_tabular.shared import KNOBS, METRICS, params_text
from live_progress_tabular.worker.models import make_model

logger = logging.getLogger(__name__)

Report = Callable[[dict[str, Any]], None]
# A candidate just finished, and the checkpoint that now holds it.
OnCandidate = Callable[["Candidate", dict[str, Any]], None]

_CHECKPOINT_VERSION = 1
_WARNINGS_KEPT = 3


@dataclass(slots=True)
class Candidate:
    """One point of the grid and the scores of its folds done so far."""

    index: int
    params: dict[str, int | float]
    # Per fold: each metric's score on its held-out rows, and ``fit_seconds``.
    folds: list[dict[str, float]] = field(default_factory=list)
    # What scikit-learn warned about while fitting it (a model that did not converge), once each.
    warnings: list[str] = field(default_factory=list)

    def scores(self) -> dict[str, dict[str, float]]:
        """Each metric's mean and (population) standard deviation over the folds."""
        return {
            metric: {
                "mean": round(float(np.mean([fold[metric] for fold in self.folds])), 6),
                "std": round(float(np.std([fold[metric] for fold in self.folds])), 6),
            }
            for metric in METRICS
        }

    def fit_seconds(self) -> float:
        return round(float(np.mean([fold["fit_seconds"] for fold in self.folds])), 4)

    def row(self) -> dict[str, Any]:
        """The candidate as a row of the result's table: its value, each score's mean and std."""
        row: dict[str, Any] = dict(self.params)
        for metric, score in self.scores().items():
            row[f"{metric}_mean"] = score["mean"]
            row[f"{metric}_std"] = score["std"]
        row["fit_seconds"] = self.fit_seconds()
        return row

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "params": self.params, "folds": self.folds, "warnings": self.warnings}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Candidate:
        return cls(int(data["index"]), dict(data["params"]), list(data["folds"]), list(data["warnings"]))


@dataclass(frozen=True, slots=True)
class Searched:
    candidates: list[Candidate]  # in the grid's order
    model: Pipeline  # the best candidate, refitted on every row


class Stopped(Exception):
    """The worker is stopping: hand the job over with this checkpoint, percent and description."""

    def __init__(self, checkpoint: dict[str, Any], percent: int, description: str) -> None:
        super().__init__(description)
        self.checkpoint = checkpoint
        self.percent = percent
        self.description = description


class Progress:
    """Percent of the fits done (the refit counts as one); never back, never below ``floor``
    (what a stopped worker had shown), and 100 left for the finished result."""

    def __init__(self, report: Report, total: int, floor: int = 0) -> None:
        self.report = report
        self.total = total
        self.percent = floor

    def at(self, done: int, description: str) -> None:
        self.percent = max(self.percent, min(99, 99 * done // self.total))
        self.report(progress_meta(self.percent, description, current=done, total=self.total))


def rank(candidates: Sequence[Candidate], metric: str) -> list[Candidate]:
    """Best first: the highest mean of ``metric``, then the steadier, then the grid's order."""
    return sorted(candidates, key=lambda c: (-c.scores()[metric]["mean"], c.scores()[metric]["std"], c.index))


def search(
    features: np.ndarray,
    target: np.ndarray,
    *,
    family: str,
    grid: Sequence[float],
    folds: int,
    metric: str,
    seed: int,
    report: Report,
    on_candidate: OnCandidate,
    stopping: Callable[[], bool],
    resume: dict[str, Any] | None = None,
) -> Searched:
    knob = KNOBS[family]
    spec = {"family": family, "grid": list(grid), "folds": folds, "seed": seed, "rows": len(target)}
    done, partial, floor = _resumed(resume, spec)
    total = len(grid) * folds + 1
    progress = Progress(report, total, floor)
    fits = len(done) * folds + (len(partial.folds) if partial else 0)
    if resume is not None:
        progress.at(fits, f"Resuming: {len(done)} of {len(grid)} candidates done")
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(features, target))

    def checkpoint(current: Candidate | None) -> dict[str, Any]:
        return {
            "version": _CHECKPOINT_VERSION,
            "spec": spec,
            "done": [candidate.to_json() for candidate in done],
            "partial": current.to_json() if current is not None and current.folds else None,
            "percent": progress.percent,
        }

    def stop_here(current: Candidate | None) -> None:
        if stopping():
            raise Stopped(
                checkpoint(current),
                progress.percent,
                f"Worker stopped; waiting for another to carry on ({len(done)} of {len(grid)} candidates, "
                f"{fits} of {total} fits done)",
            )

    for index in range(len(done), len(grid)):
        if partial is not None and partial.index == index:
            candidate = partial
        else:
            candidate = Candidate(index, {knob.name: grid[index]})
        for fold in range(len(candidate.folds), folds):
            stop_here(candidate)
            progress.at(
                fits,
                f"Fitting {family} {params_text(candidate.params)} "
                f"(fold {fold + 1} of {folds}, candidate {index + 1} of {len(grid)})",
            )
            train, test = splits[fold]
            model = make_model(family, grid[index], seed)
            candidate.folds.append(_fit_and_score(model, candidate, features, target, train, test))
            fits += 1
        done.append(candidate)
        on_candidate(candidate, checkpoint(None))

    stop_here(None)
    best = rank(done, metric)[0]
    progress.at(fits, f"Refitting {family} {params_text(best.params)} on all {len(target)} rows")
    model = make_model(family, grid[best.index], seed)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        model.fit(features, target)
    return Searched(done, model)


def _fit_and_score(
    model: Pipeline, candidate: Candidate, features: np.ndarray, target: np.ndarray, train: Any, test: Any
) -> dict[str, float]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.perf_counter()
        model.fit(features[train], target[train])
        seconds = time.perf_counter() - started
        predicted = model.predict(features[test])
    for warning in caught:
        note = f"{warning.category.__name__}: {str(warning.message).splitlines()[0]}"
        if note not in candidate.warnings and len(candidate.warnings) < _WARNINGS_KEPT:
            candidate.warnings.append(note)
    truth = target[test]
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "balanced_accuracy": float(balanced_accuracy_score(truth, predicted)),
        "f1_macro": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        "fit_seconds": seconds,
    }


def _resumed(saved: dict[str, Any] | None, spec: dict[str, Any]) -> tuple[list[Candidate], Candidate | None, int]:
    """The candidates done, the one begun and the percent shown, from a checkpoint of this very
    search; of another (the file changed since) or of another version: none, but its percent."""
    if saved is None:
        return [], None, 0
    floor = saved.get("percent") if isinstance(saved, dict) else None
    floor = floor if isinstance(floor, int) and 0 <= floor <= 99 else 0
    try:
        if saved["version"] != _CHECKPOINT_VERSION or saved["spec"] != spec:
            raise ValueError(f"it was saved for {saved.get('spec')!r}, not {spec!r}")
        done = [Candidate.from_json(data) for data in saved["done"]]
        partial = None if saved["partial"] is None else Candidate.from_json(saved["partial"])
        if [c.index for c in done] != list(range(len(done))) or (partial and partial.index != len(done)):
            raise ValueError("its candidates are out of order")
    except (KeyError, TypeError, ValueError) as exc:
        logger.warning("Starting afresh: the checkpoint does not fit this search (%s)", exc)
        return [], None, floor
    return done, partial, floor

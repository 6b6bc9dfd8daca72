"""The grid search without Celery: progress per fit, a live result per candidate, ranking, and
a stop between fits that a second run resumes from, scoring what an uninterrupted run would."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_wine

from live_progress_tabular.worker.search import Candidate, Searched, Stopped, rank, search

GRID = (1, 2, 4)
FOLDS = 3


@dataclass
class Recorder:
    """What a search reported, in order: ("progress", meta) and ("candidate", candidate)."""

    stop_after_fits: int | None = None
    log: list[tuple[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)

    def report(self, meta: dict[str, Any]) -> None:
        self.log.append(("progress", meta))

    def on_candidate(self, candidate: Candidate, checkpoint: dict[str, Any]) -> None:
        self.log.append(("candidate", candidate.to_json()))
        self.checkpoints.append(checkpoint)

    def stopping(self) -> bool:
        fits = sum(1 for kind, meta in self.log if kind == "progress" and meta["description"].startswith("Fitting"))
        return self.stop_after_fits is not None and fits >= self.stop_after_fits

    @property
    def metas(self) -> list[dict[str, Any]]:
        return [meta for kind, meta in self.log if kind == "progress"]

    @property
    def candidates(self) -> list[dict[str, Any]]:
        return [data for kind, data in self.log if kind == "candidate"]


@pytest.fixture(scope="module")
def wine() -> tuple[np.ndarray, np.ndarray]:
    data = load_wine()
    return data.data, data.target


def run(
    data: tuple[np.ndarray, np.ndarray], recorder: Recorder, resume: dict[str, Any] | None = None, **changes: Any
) -> Searched:
    options: dict[str, Any] = {"family": "decision_tree", "grid": GRID, "folds": FOLDS, "metric": "accuracy", "seed": 7}
    options.update(changes)
    return search(
        *data,
        **options,
        report=recorder.report,
        on_candidate=recorder.on_candidate,
        stopping=recorder.stopping,
        resume=resume,
    )


def scores_of(candidates: list[dict[str, Any]]) -> list[tuple[Any, list[dict[str, float]]]]:
    """Each candidate's params and fold scores, without the timings."""
    return [
        (c["params"], [{k: v for k, v in fold.items() if k != "fit_seconds"} for fold in c["folds"]])
        for c in candidates
    ]


def test_each_fit_reports_progress_that_rises_and_says_what_it_fits(wine: tuple[np.ndarray, np.ndarray]) -> None:
    recorder = Recorder()
    run(wine, recorder)

    metas = recorder.metas
    fitting = [m["description"] for m in metas if m["description"].startswith("Fitting")]
    assert len(fitting) == len(GRID) * FOLDS
    assert fitting[:4] == [
        "Fitting decision_tree max_depth=1 (fold 1 of 3, candidate 1 of 3)",
        "Fitting decision_tree max_depth=1 (fold 2 of 3, candidate 1 of 3)",
        "Fitting decision_tree max_depth=1 (fold 3 of 3, candidate 1 of 3)",
        "Fitting decision_tree max_depth=2 (fold 1 of 3, candidate 2 of 3)",
    ]
    assert metas[-1]["description"].startswith("Refitting decision_tree max_depth=")
    assert metas[-1]["description"].endswith("on all 178 rows")
    percents = [m["percent"] for m in metas]
    assert percents == sorted(percents) and percents[0] == 0 and max(percents) == 99 * 9 // 10
    assert [m["current"] for m in metas] == list(range(10)) and {m["total"] for m in metas} == {10}


def test_a_candidate_is_published_as_soon_as_its_last_fold_is_scored(wine: tuple[np.ndarray, np.ndarray]) -> None:
    recorder = Recorder()
    run(wine, recorder)

    kinds = [
        "candidate" if kind == "candidate" else meta["description"].split(" (")[0].split(" on ")[0]
        for kind, meta in recorder.log
    ]
    assert kinds == [
        *["Fitting decision_tree max_depth=1"] * 3,
        "candidate",
        *["Fitting decision_tree max_depth=2"] * 3,
        "candidate",
        *["Fitting decision_tree max_depth=4"] * 3,
        "candidate",
        "Refitting decision_tree max_depth=4",
    ]
    assert [c["params"] for c in recorder.candidates] == [{"max_depth": 1}, {"max_depth": 2}, {"max_depth": 4}]
    assert all(len(c["folds"]) == FOLDS for c in recorder.candidates)


def test_candidates_rank_by_the_chosen_metric_best_first(wine: tuple[np.ndarray, np.ndarray]) -> None:
    searched = run(wine, Recorder(), grid=(1, 3, 8), metric="f1_macro")

    ranked = rank(searched.candidates, "f1_macro")
    means = [c.scores()["f1_macro"]["mean"] for c in ranked]
    assert means == sorted(means, reverse=True)
    assert ranked[0].params == {"max_depth": 8} and ranked[-1].params == {"max_depth": 1}
    # The model it returns is the best one, fitted on every row.
    assert searched.model.named_steps["decisiontreeclassifier"].max_depth == 8
    assert searched.model.score(*wine) > 0.95


def test_ties_go_to_the_steadier_then_to_the_earlier_candidate() -> None:
    def candidate(index: int, accuracies: list[float]) -> Candidate:
        folds = [{"accuracy": a, "balanced_accuracy": a, "f1_macro": a, "fit_seconds": 0.0} for a in accuracies]
        return Candidate(index, {"C": index}, folds)

    ranked = rank([candidate(0, [0.8, 1.0]), candidate(1, [0.9, 0.9]), candidate(2, [0.9, 0.9])], "accuracy")

    assert [c.index for c in ranked] == [1, 2, 0]


def test_a_stop_request_ends_the_search_between_fits_with_a_checkpoint(wine: tuple[np.ndarray, np.ndarray]) -> None:
    recorder = Recorder(stop_after_fits=5)  # two folds into the second candidate
    with pytest.raises(Stopped) as stopped:
        run(wine, recorder)

    checkpoint = stopped.value.checkpoint
    assert json.loads(json.dumps(checkpoint)) == checkpoint  # JSON, nothing pickled
    assert [c["params"] for c in checkpoint["done"]] == [{"max_depth": 1}]
    assert checkpoint["partial"]["params"] == {"max_depth": 2} and len(checkpoint["partial"]["folds"]) == 2
    assert stopped.value.percent == checkpoint["percent"] == recorder.metas[-1]["percent"]
    assert stopped.value.description == (
        "Worker stopped; waiting for another to carry on (1 of 3 candidates, 5 of 10 fits done)"
    )
    assert len(recorder.candidates) == 1


@pytest.mark.parametrize("stop_after_fits", [3, 5, 9], ids=["between-candidates", "mid-candidate", "before-refit"])
def test_a_resumed_search_skips_what_was_done_and_scores_as_an_uninterrupted_one(
    wine: tuple[np.ndarray, np.ndarray], stop_after_fits: int
) -> None:
    whole = Recorder()
    run(wine, whole)
    first = Recorder(stop_after_fits=stop_after_fits)
    with pytest.raises(Stopped) as stopped:
        run(wine, first)

    second = Recorder()
    searched = run(wine, second, resume=json.loads(json.dumps(stopped.value.checkpoint)))

    fits_again = [m for m in second.metas if m["description"].startswith("Fitting")]
    assert len(fits_again) == len(GRID) * FOLDS - stop_after_fits
    assert second.metas[0]["description"] == f"Resuming: {stop_after_fits // FOLDS} of 3 candidates done"
    # Each candidate published once over both runs, in the grid's order, with the same scores.
    assert scores_of(first.candidates + second.candidates) == scores_of(whole.candidates)
    assert scores_of([c.to_json() for c in searched.candidates]) == scores_of(whole.candidates)
    percents = [m["percent"] for m in first.metas + second.metas]
    assert percents == sorted(percents)


def test_a_checkpoint_of_another_search_starts_afresh(wine: tuple[np.ndarray, np.ndarray]) -> None:
    first = Recorder(stop_after_fits=4)
    with pytest.raises(Stopped) as stopped:
        run(wine, first)

    second = Recorder()
    run(wine, second, resume=stopped.value.checkpoint, grid=(1, 3))

    assert [c["params"] for c in second.candidates] == [{"max_depth": 1}, {"max_depth": 3}]
    # It shows no less than the stopped run had shown.
    assert second.metas[0]["percent"] >= stopped.value.percent

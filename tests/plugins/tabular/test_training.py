"""A whole training job as the task runs it, without Celery: from a CSV file to a result that
lists a model file which loads and predicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris

from live_progress_tabular.parameters import TrainParameters
from live_progress_tabular.shared import candidate_line
from live_progress_tabular.table import TableError
from live_progress_tabular.worker.search import Stopped
from live_progress_tabular.worker.training import train_on_csv
from tests.plugins.tabular.datasets import iris_csv, write_csv


class Calls:
    def __init__(self) -> None:
        self.metas: list[dict[str, Any]] = []
        self.published: list[tuple[dict[str, Any], str]] = []
        self.checkpoints: list[dict[str, Any]] = []

    def report(self, meta: dict[str, Any]) -> None:
        self.metas.append(meta)

    def publish(self, root: dict[str, Any], line: str, checkpoint: dict[str, Any]) -> None:
        self.published.append((root, line))
        self.checkpoints.append(checkpoint)


def train(
    csv_file: Path, calls: Calls, target: str = "species", stop_after: int | None = None, **parameters: Any
) -> dict[str, Any]:
    def stopping() -> bool:
        return stop_after is not None and len(calls.metas) > stop_after

    return train_on_csv(
        csv_file,
        target,
        TrainParameters.model_validate(parameters),
        report=calls.report,
        publish=calls.publish,
        stopping=stopping,
        fallback_dir=csv_file.parent / "fallback",
    )


def test_the_result_ranks_the_candidates_and_lists_the_saved_model(tmp_path: Path) -> None:
    csv_file = iris_csv(tmp_path / "data" / "iris.csv")
    calls = Calls()

    result = train(csv_file, calls, family="knn", grid=[1, 5, 15], folds=3)

    assert result["summary"].startswith("Best of 3: knn n_neighbors=")
    assert (result["family"], result["target"], result["metric"], result["folds"], result["rows"]) == (
        "knn",
        "species",
        "accuracy",
        3,
        150,
    )
    assert result["features"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert result["classes"] == ["setosa", "versicolor", "virginica"]
    ranking = result["ranking"]
    assert [row["rank"] for row in ranking] == [1, 2, 3]
    assert sorted(row["n_neighbors"] for row in ranking) == [1, 5, 15]
    assert [row["accuracy_mean"] for row in ranking] == sorted((row["accuracy_mean"] for row in ranking), reverse=True)
    assert set(ranking[0]) == {
        "rank",
        "n_neighbors",
        *(f"{metric}_{stat}" for metric in ("accuracy", "balanced_accuracy", "f1_macro") for stat in ("mean", "std")),
        "fit_seconds",
    }
    assert result["best"]["params"] == {"n_neighbors": ranking[0]["n_neighbors"]}
    assert result["best"]["scores"]["accuracy"]["mean"] == ranking[0]["accuracy_mean"] > 0.9
    assert json.loads(json.dumps(result)) == result

    assert result["files_dir"] == str(csv_file.parent)
    assert result["files"] == [{"name": "iris.knn.joblib"}]
    assert result["model_file"] == str(csv_file.parent / "iris.knn.joblib")
    model = joblib.load(result["model_file"])  # the file this test's own run just wrote
    iris = load_iris()
    predicted = model.predict(iris.data)
    assert np.mean(predicted == iris.target_names[iris.target]) > 0.9


def test_progress_ends_at_100_with_the_result_and_never_goes_back(tmp_path: Path) -> None:
    calls = Calls()
    train(iris_csv(tmp_path / "iris.csv"), calls, family="decision_tree", grid=[2, 3], folds=4)

    percents = [meta["percent"] for meta in calls.metas]
    assert percents == sorted(percents)
    assert percents.count(100) == 1 and percents[-1] == 100
    assert calls.metas[0]["description"] == "Reading iris.csv"
    assert calls.metas[-1]["description"].startswith("Done: decision_tree max_depth=")


def test_each_candidate_is_published_with_its_scores_and_a_line(tmp_path: Path) -> None:
    calls = Calls()
    train(iris_csv(tmp_path / "iris.csv"), calls, family="random_forest", grid=[5, 10], folds=3, metric="f1_macro")

    roots = [root for root, _ in calls.published]
    assert [(r["title"], r["candidate"], r["candidates"], r["params"]) for r in roots] == [
        ("candidate", 1, 2, {"n_estimators": 5}),
        ("candidate", 2, 2, {"n_estimators": 10}),
    ]
    assert set(roots[0]["scores"]) == {"accuracy", "balanced_accuracy", "f1_macro"}
    assert roots[0]["folds"] == 3
    line = calls.published[0][1]
    assert line == candidate_line(roots[0], "f1_macro")
    assert line.startswith("n_estimators=5: f1_macro 0.9") and line.endswith(" (3 folds)")
    # Each candidate's checkpoint holds it and those before it.
    assert [len(checkpoint["done"]) for checkpoint in calls.checkpoints] == [1, 2]


def test_a_stopped_job_resumes_from_its_checkpoint_without_publishing_twice(tmp_path: Path) -> None:
    csv_file = iris_csv(tmp_path / "iris.csv")
    first = Calls()
    with pytest.raises(Stopped) as stopped:
        train(csv_file, first, stop_after=5, family="decision_tree", grid=[1, 2, 3], folds=2)

    second = Calls()
    result = train_on_csv(
        csv_file,
        "species",
        TrainParameters(family="decision_tree", grid=[1, 2, 3], folds=2),
        report=second.report,
        publish=second.publish,
        stopping=lambda: False,
        fallback_dir=tmp_path / "fallback",
        resume=json.loads(json.dumps(stopped.value.checkpoint)),
    )

    published = [root["candidate"] for root, _ in first.published + second.published]
    assert published == [1, 2, 3]
    # The resumed run starts where the stopped one had shown, never lower.
    assert second.metas[0] == {"percent": stopped.value.percent, "description": "Reading iris.csv"}
    assert len(result["ranking"]) == 3


def test_a_folder_that_cannot_take_the_model_sends_it_to_the_fallback(tmp_path: Path) -> None:
    csv_file = iris_csv(tmp_path / "iris.csv")
    # A folder where the file would go: the rename over it fails as an unwritable folder does.
    (tmp_path / "iris.decision_tree.joblib").mkdir()

    result = train(csv_file, Calls(), family="decision_tree", grid=[2], folds=2)

    assert result["files_dir"] == str(tmp_path / "fallback")
    assert joblib.load(tmp_path / "fallback" / "iris.decision_tree.joblib").predict(load_iris().data[:1]).shape == (1,)
    assert not [path.name for path in tmp_path.iterdir() if path.name.endswith(".part")]


def test_a_file_bad_past_the_rows_the_web_checked_fails_the_job_naming_the_line(tmp_path: Path) -> None:
    rows = [[n, n % 2] for n in range(50)] + [["oops", 1]]
    csv_file = write_csv(tmp_path / "late.csv", ["x", "y"], rows)

    with pytest.raises(TableError, match=r"whose column 'x' is not numeric \(line 52 has 'oops'\)"):
        train(csv_file, Calls(), target="y", family="decision_tree", folds=2)

"""A whole training job as a plain function: read the CSV, search the grid, save the best
model, answer the result. The Celery task (``tasks``) only wires it to Celery and Redis."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from live_progress import progress_meta
from live_progress_tabular.parameters import TrainParameters
from live_progress_tabular.shared import candidate_line, model_file_name, params_text
from live_progress_tabular.worker.data import load_dataset
from live_progress_tabular.worker.saving import save_model
from live_progress_tabular.worker.search import Candidate, Report, rank, search

# A candidate's live result (its root and how it reads as a line), and the checkpoint that holds it.
Publish = Callable[[dict[str, Any], str, dict[str, Any]], None]


def live_result(candidate: Candidate, candidates: int, folds: int, metric: str) -> tuple[dict[str, Any], str]:
    """A finished candidate as a live result (``title`` "candidate") and its line."""
    root = {
        "title": "candidate",
        "candidate": candidate.index + 1,
        "candidates": candidates,
        "params": candidate.params,
        "scores": candidate.scores(),
        "folds": folds,
        "fit_seconds": candidate.fit_seconds(),
    }
    if candidate.warnings:
        root["warnings"] = candidate.warnings
    return root, candidate_line(root, metric)


def train_on_csv(
    csv_file: Path,
    target: str,
    parameters: TrainParameters,
    *,
    report: Report,
    publish: Publish,
    stopping: Callable[[], bool],
    fallback_dir: Path,
    resume: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train and evaluate; the result lists the model file for download.

    Raises TableError for a file it cannot train on, ``search.Stopped`` when ``stopping()``
    turns true between two fits."""
    grid = parameters.grid_values()
    family, folds, metric = parameters.family, parameters.folds, parameters.metric
    floor = resume.get("percent", 0) if isinstance(resume, dict) else 0
    report(progress_meta(floor if isinstance(floor, int) and 0 <= floor <= 99 else 0, f"Reading {csv_file.name}"))
    data = load_dataset(csv_file, target, parameters.ignore_columns, folds, family, grid)

    def on_candidate(candidate: Candidate, checkpoint: dict[str, Any]) -> None:
        root, line = live_result(candidate, len(grid), folds, metric)
        publish(root, line, checkpoint)

    searched = search(
        data.features,
        data.target,
        family=family,
        grid=grid,
        folds=folds,
        metric=metric,
        seed=parameters.seed,
        report=report,
        on_candidate=on_candidate,
        stopping=stopping,
        resume=resume,
    )
    ranked = rank(searched.candidates, metric)
    best = ranked[0]
    path = save_model(searched.model, model_file_name(csv_file.stem, family), csv_file.parent, fallback_dir)
    score = best.scores()[metric]
    summary = (
        f"Best of {len(ranked)}: {family} {params_text(best.params)}, {metric} {score['mean']:.3f} ± "
        f"{score['std']:.3f} ({folds}-fold cross-validation); refitted on all {data.table.rows} rows and saved "
        f"as {path.name}"
    )
    report(progress_meta(100, f"Done: {family} {params_text(best.params)}, {metric} {score['mean']:.3f}"))
    return {
        "summary": summary,
        "family": family,
        "target": target,
        "metric": metric,
        "folds": folds,
        "rows": data.table.rows,
        "features": data.table.features,
        "left_out": data.table.left_out,
        "classes": searched.model.classes_.tolist(),
        "best": {"params": best.params, "scores": best.scores()},
        "ranking": [{"rank": n, **candidate.row()} for n, candidate in enumerate(ranked, 1)],
        "model_file": str(path),
        "files_dir": str(path.parent),
        "files": [{"name": path.name}],
    }

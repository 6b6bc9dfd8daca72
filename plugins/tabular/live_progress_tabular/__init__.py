"""The tabular plugin: trains and evaluates a scikit-learn classifier on a CSV file.

Its web half is ``web`` (the request and its checks) and the ``plugin`` declared here, the
entry point's target; its worker half is ``worker/``, which only the worker imports.
"""

from __future__ import annotations

from live_progress import Endpoint, Input, Plugin
from live_progress_tabular.shared import TRAIN_TASK
from live_progress_tabular.web import TrainRequest, prepare_training

__all__ = ["plugin"]

train = Endpoint(
    name="train",
    task=TRAIN_TASK,
    request_model=TrainRequest,
    prepare=prepare_training,
    title="Train a classifier on a CSV file",
    inputs=(
        Input("csv_file", "CSV file", "file", "A header line naming the columns, then one row per example"),
        Input("target", "Target column", "text", "The column of classes to predict; the others are the features"),
    ),
    live_results=True,
    downloads=True,
)

plugin = Plugin(
    name="tabular",
    title="Tabular models",
    info=(
        "Trains a scikit-learn classifier on a CSV file: each value of a small hyper-parameter grid is "
        "cross-validated fold by fold, each candidate's scores shown as soon as its folds are done, "
        "and the best one refitted on every row and saved beside the CSV (joblib)."
    ),
    endpoints=(train,),
    worker="live_progress_tabular.worker.tasks:register",
    author="live-progress",
    version="0.1.0",
)

"""A CSV file as the arrays scikit-learn fits: every row read and checked (the web read only
the first ones), features as floats with NaN where a cell is missing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from live_progress_tabular.table import Table, check_classes, check_neighbors, class_labels, read_table


@dataclass(frozen=True, slots=True)
class Dataset:
    table: Table
    features: np.ndarray  # rows × feature columns, float
    target: np.ndarray  # a class per row


def load_dataset(
    path: Path, target: str, ignore: Sequence[str], folds: int, family: str, grid: Sequence[float]
) -> Dataset:
    """The whole file, or a TableError naming what makes it unusable for these parameters."""
    table = read_table(path, target, ignore)
    check_classes(table, folds)
    check_neighbors(table, family, grid, folds)
    features = np.asarray(table.values, dtype=np.float64).reshape(table.rows, len(table.features))
    target_values = np.asarray(class_labels(table.labels))
    # The arrays hold them now: the lists of Python floats would double what a big file costs.
    table.values.clear()
    table.labels.clear()
    return Dataset(table, features, target_values)

"""CSV files for the tabular plugin's tests, written from the datasets scikit-learn ships or
generates: nothing is downloaded."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sklearn.datasets import load_iris, load_wine, make_classification


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], delimiter: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def iris_csv(path: Path) -> Path:
    """150 flowers, 4 measurements, the target ``species`` (setosa, versicolor, virginica)."""
    iris = load_iris()
    header = [name.removesuffix(" (cm)").replace(" ", "_") for name in iris.feature_names]
    rows = ([*map(float, x), iris.target_names[y]] for x, y in zip(iris.data, iris.target, strict=True))
    return write_csv(path, [*header, "species"], rows)


def wine_csv(path: Path) -> Path:
    """178 wines, 13 measurements, the target ``cultivar`` (0, 1, 2)."""
    wine = load_wine()
    rows = ([*map(float, x), int(y)] for x, y in zip(wine.data, wine.target, strict=True))
    return write_csv(path, [*wine.feature_names, "cultivar"], rows)


def generated_csv(path: Path, rows: int, features: int = 10, classes: int = 2, seed: int = 0) -> Path:
    """``rows`` generated examples, the target ``label`` (class names a, b, c, ...)."""
    x, y = make_classification(
        n_samples=rows, n_features=features, n_informative=min(features, 5), n_classes=classes, random_state=seed
    )
    header = [f"x{n}" for n in range(features)]
    return write_csv(path, [*header, "label"], ([*map(float, r), "abcdefgh"[c]] for r, c in zip(x, y, strict=True)))

"""Fixtures of the tabular plugin's tests: a folder of CSV files under ALLOWED_ROOTS (the real
redis-server is the session's, from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugins.tabular.datasets import generated_csv, iris_csv, wine_csv, write_csv


@pytest.fixture(scope="session")
def table_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ALLOWED_ROOTS for the web: good files, and files each wrong in one way."""
    root = tmp_path_factory.mktemp("tables")
    iris_csv(root / "iris.csv")
    wine_csv(root / "wine.csv")
    # Enough fits to stop or cancel in the middle: 600 rows, a forest grid of 6 values, 10 folds.
    generated_csv(root / "long" / "generated.csv", rows=600, features=12, classes=3)
    write_csv(root / "people.csv", ["age", "name", "label"], [[31, "Ann", "x"], [45, "Bob", "y"]] * 5)
    write_csv(root / "one_class.csv", ["a", "label"], [[n, "x"] for n in range(10)])
    write_csv(root / "rare_class.csv", ["a", "label"], [[n, "x"] for n in range(10)] + [[1, "y"], [2, "y"]])
    write_csv(root / "prices.csv", ["rooms", "price"], [[n % 5, 100 + n * 7.31] for n in range(40)])
    write_csv(root / "header_only.csv", ["a", "b", "label"], [])
    (root / "empty.csv").write_bytes(b"")
    (root / "picture.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10")
    (root / "folder.csv").mkdir()
    return root

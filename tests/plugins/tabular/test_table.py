"""Reading a CSV file as features and classes, and the errors that name what makes one unusable
(the web's checks and the worker's are these)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from live_progress_tabular.table import TableError, check_classes, check_neighbors, class_labels, read_table

GOOD = "a,b,y\n1,2,x\n3,4,x\n5,6,z\n7,8,z\n"


def table_file(tmp_path: Path, content: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_reads_features_as_floats_and_the_target_as_classes(tmp_path: Path) -> None:
    table = read_table(table_file(tmp_path, GOOD), "y")

    assert (table.features, table.rows, table.complete) == (["a", "b"], 4, True)
    assert table.values == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]
    assert table.labels == ["x", "x", "z", "z"]
    assert dict(table.class_counts) == {"x": 2, "z": 2}


@pytest.mark.parametrize(
    ("content", "delimiter"),
    [
        ("a;b;y\n1;2;x\n", ";"),
        ("a\tb\ty\n1\t2\tx\n", "\t"),
        ("a|b|y\n1|2|x\n", "|"),
        ("\ufeffa,b,y\r\n1,2,x\r\n", ","),  # a byte-order mark and Windows line ends, as Excel saves
    ],
    ids=["semicolon", "tab", "pipe", "excel"],
)
def test_the_delimiter_is_the_headers(tmp_path: Path, content: str, delimiter: str) -> None:
    table = read_table(table_file(tmp_path, content), "y")

    assert (table.features, table.values, table.labels) == (["a", "b"], [[1.0, 2.0]], ["x"])


def test_missing_cells_are_nan_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    table = read_table(table_file(tmp_path, "a,b,y\n1,,x\n\nNA,?,z\n 2 , nan ,x\n"), "y")

    assert table.rows == 3
    assert [[math.isnan(v) for v in row] for row in table.values] == [[False, True], [True, True], [False, True]]
    assert table.values[2][0] == 2.0


def test_ignored_and_unnamed_columns_are_left_out(tmp_path: Path) -> None:
    table = read_table(table_file(tmp_path, ",name,a,y\n0,Ann,1,x\n1,Bob,2,z\n"), "y", ["name"])

    assert table.features == ["a"]
    assert table.left_out == ["(column 1, no name)", "name"]


def test_a_limit_reads_the_first_rows_and_says_the_table_is_not_complete(tmp_path: Path) -> None:
    path = table_file(tmp_path, "a,y\n" + "1,x\n" * 5)

    assert (read_table(path, "y", limit=3).rows, read_table(path, "y", limit=3).complete) == (3, False)
    assert read_table(path, "y", limit=5).complete
    assert read_table(path, "y", limit=3, keep=False).values == []


@pytest.mark.parametrize(
    ("content", "target", "ignore", "expected"),
    [
        (
            GOOD,
            "species",
            (),
            "inputs.target.text has value 'species', which is no column of F (its columns: 'a', 'b', 'y')",
        ),
        (GOOD, "Y", (), "did you mean 'y'?"),
        ("a,name,y\n1,2,x\n3,Bob,z\n", "y", (), "whose column 'name' is not numeric (line 3 has 'Bob')"),
        ("a,b,y\n1,inf,x\n", "y", (), "whose column 'b' is not numeric (line 2 has 'inf')"),
        ("", "y", (), "inputs.csv_file.path has value 'F', which is empty"),
        ("\n\n", "y", (), "which is empty"),
        ("a,b,y\n", "y", (), "which has a header ('a', 'b', 'y') but no data rows"),
        ("a,b,y\n\n\n", "y", (), "but no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "y", (), "which is not a CSV file: it is not UTF-8 text (byte 0x89"),
        ("a,b,y\n1,\x00,x\n", "y", (), "which is not a CSV file: line 2 holds a NUL byte"),
        ("just one column\n1\n", "y", (), "which has one column ('just one column')"),
        ("a,b,y\n1,2,x\n1,2\n", "y", (), "whose line 3 has 2 fields where the header has 3"),
        ("a,a,y\n1,2,x\n", "y", (), "which names the column 'a' twice"),
        ("a,b,y\n1,2,\n", "y", (), "whose line 2 has no value in the target column 'y'"),
        (GOOD, "y", ("c",), "parameters.ignore_columns has value ['c']: 'c' is no column of F"),
        (GOOD, "y", ("y",), "parameters.ignore_columns has value ['y'], which leaves out the target column 'y'"),
        (GOOD, "y", ("a", "b"), "parameters.ignore_columns has value ['a', 'b'], which leaves no feature column"),
    ],
    ids=[
        "no-such-column",
        "column-in-another-case",
        "text-feature",
        "infinite-feature",
        "empty-file",
        "blank-lines-only",
        "header-only",
        "header-and-blank-lines",
        "binary",
        "nul-byte",
        "one-column",
        "ragged-row",
        "duplicate-column",
        "missing-target",
        "ignore-unknown",
        "ignore-target",
        "ignore-everything",
    ],
)
def test_a_file_it_cannot_use_is_named_with_the_field_and_the_value(
    tmp_path: Path, content: str | bytes, target: str, ignore: tuple[str, ...], expected: str
) -> None:
    path = table_file(tmp_path, content)

    with pytest.raises(TableError) as raised:
        read_table(path, target, ignore, name="F")

    assert expected in str(raised.value)


def test_a_missing_column_error_lists_the_columns_it_has(tmp_path: Path) -> None:
    with pytest.raises(TableError, match=r"its columns: 'a', 'b', 'y'\)$"):
        read_table(table_file(tmp_path, GOOD), "nope")


@pytest.mark.parametrize(
    ("content", "folds", "expected"),
    [
        (
            "a,y\n1,x\n2,x\n3,x\n",
            2,
            "inputs.target.text has value 'y', whose column holds one class only ('x' in all 3 rows)",
        ),
        (
            "a,y\n" + "1,x\n" * 6 + "2,z\n" * 3,
            5,
            "parameters.folds has value 5, but the class 'z' of 'y' has only 3 rows and every fold must hold each "
            "class: choose at most 3 folds",
        ),
        ("a,y\n" + "1,x\n" * 6 + "2,z\n", 2, "has only 1 row and every fold must hold each class: cross-validation"),
        (
            "a,y\n" + "".join(f"{n},{n * 1.37:.2f}\n" for n in range(30)),
            2,
            "inputs.target.text has value 'y', a column of 30 distinct numbers (0.00, 1.37, 2.74, ...): this plugin "
            "trains classifiers",
        ),
    ],
    ids=["single-class", "folds-above-smallest-class", "a-class-of-one", "continuous-target"],
)
def test_classes_that_folds_cannot_split_are_named(tmp_path: Path, content: str, folds: int, expected: str) -> None:
    table = read_table(table_file(tmp_path, content), "y")

    with pytest.raises(TableError) as raised:
        check_classes(table, folds)

    assert expected in str(raised.value)


def test_class_counts_of_a_partial_read_are_not_judged(tmp_path: Path) -> None:
    # The first rows hold one class; the rest of the file may hold others.
    table = read_table(table_file(tmp_path, "a,y\n" + "1,x\n" * 5 + "2,z\n" * 5), "y", limit=5)

    check_classes(table, 5)


def test_knn_cannot_ask_for_more_neighbours_than_a_fold_trains_on(tmp_path: Path) -> None:
    table = read_table(table_file(tmp_path, "a,y\n" + "1,x\n2,z\n" * 5), "y")

    check_neighbors(table, "knn", [5], folds=2)
    with pytest.raises(TableError, match="parameters.grid has the value 6, but knn's n_neighbors cannot exceed the 5"):
        check_neighbors(table, "knn", [3, 6], folds=2)


@pytest.mark.parametrize(
    ("labels", "expected"), [(["1", "0", "2"], [1, 0, 2]), (["1", "b"], ["1", "b"]), (["1.0", "2"], ["1.0", "2"])]
)
def test_classes_are_whole_numbers_when_every_one_is(labels: list[str], expected: list[object]) -> None:
    assert class_labels(labels) == expected

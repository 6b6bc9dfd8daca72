"""A CSV file as a table of numeric features and a target column of classes, read with the
standard library's ``csv``, and what makes one unusable. The web checks the first rows of a
file this way before a job is queued; the worker reads the whole file the same way.

The delimiter is the one of ``, ; tab |`` that the header line holds most of. A feature cell
that is empty or ``NA``/``NaN``/``null``/``?`` is missing (the model fills it in); any other
cell of a feature column must be a finite number.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from live_progress_tabular.shared import CSV_FIELD, FOLDS_FIELD, GRID_FIELD, IGNORE_FIELD, TARGET_FIELD

MISSING = frozenset({"", "na", "nan", "n/a", "null", "none", "?"})
DELIMITERS = ",;\t|"
# A target of more distinct numbers than this, not all whole, is a quantity, not classes.
_CONTINUOUS_AFTER = 20
_LISTED_COLUMNS = 30


class TableError(ValueError):
    """A file, column or parameter the job cannot train with; the message names the request's
    field and the value sent."""


@dataclass(slots=True)
class Table:
    """What was read: the columns, and (``keep``) each row's features and class."""

    name: str  # the file as messages name it
    columns: list[str]
    target: str
    features: list[str]
    left_out: list[str]
    rows: int = 0
    # Every row was read (not only the first ``limit``): class counts are final.
    complete: bool = False
    class_counts: Counter[str] = field(default_factory=Counter)
    values: list[list[float]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def read_table(
    path: Path,
    target: str,
    ignore: Sequence[str] = (),
    *,
    name: str | None = None,
    limit: int | None = None,
    keep: bool = True,
) -> Table:
    """The table in ``path`` (its first ``limit`` data rows when given), or a TableError.

    ``name`` is how messages name the file (the path the request sent); ``keep=False`` only
    checks and counts, keeping no row."""
    shown = str(path) if name is None else name
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()
            if not first.strip():
                raise _file_error(shown, "which is empty: a CSV file starts with a line naming its columns")
            if "\x00" in first:
                raise _not_text(shown, 1)
            delimiter = max(DELIMITERS, key=first.count)
            handle.seek(0)
            reader = csv.reader(handle, delimiter=delimiter)
            table = _columns(shown, next(reader), target, ignore)
            _read_rows(table, reader, limit, keep)
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start : exc.start + 1].hex()
        raise _file_error(
            shown, f"which is not a CSV file: it is not UTF-8 text (byte 0x{byte}: {exc.reason})"
        ) from None
    except csv.Error as exc:
        raise _file_error(shown, f"which is not a CSV file: {exc}") from None
    except OSError as exc:
        raise _file_error(shown, f"which cannot be read: {exc.strerror}") from None
    if table.rows == 0:
        raise _file_error(shown, f"which has a header ({_listed(table.columns)}) but no data rows")
    return table


def _columns(shown: str, header: list[str], target: str, ignore: Sequence[str]) -> Table:
    columns = [name.strip() for name in header]
    if len(columns) < 2:
        raise _file_error(
            shown,
            f"which has one column ({_listed(columns)}): it needs a target column and a feature column, "
            f"separated by one of , ; tab |",
        )
    twice = [name for name, count in Counter(columns).items() if count > 1 and name]
    if twice:
        raise _file_error(shown, f"which names the column {twice[0]!r} twice")
    if target not in columns:
        raise TableError(
            f"{TARGET_FIELD} has value {target!r}, which is no column of {shown} ({_suggest(target, columns)})"
        )
    unknown = [name for name in ignore if name not in columns]
    if unknown:
        raise TableError(
            f"{IGNORE_FIELD} has value {list(ignore)!r}: {unknown[0]!r} is no column of {shown} "
            f"({_suggest(unknown[0], columns)})"
        )
    if target in ignore:
        raise TableError(f"{IGNORE_FIELD} has value {list(ignore)!r}, which leaves out the target column {target!r}")
    # A column without a name is most often a saved index (pandas' to_csv): left out.
    left_out = [name or f"(column {n + 1}, no name)" for n, name in enumerate(columns) if name in ignore or not name]
    features = [name for name in columns if name and name != target and name not in ignore]
    if not features:
        raise TableError(f"{IGNORE_FIELD} has value {list(ignore)!r}, which leaves no feature column in {shown}")
    return Table(shown, columns, target, features, left_out)


def _read_rows(table: Table, reader: csv.Reader, limit: int | None, keep: bool) -> None:  # type: ignore[name-defined]
    width = len(table.columns)
    target_at = table.columns.index(table.target)
    feature_at = [table.columns.index(name) for name in table.features]
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line
        if limit is not None and table.rows >= limit:
            return
        if len(row) != width:
            raise _file_error(
                table.name, f"whose line {reader.line_num} has {len(row)} fields where the header has {width}"
            )
        label = row[target_at].strip()
        if label.lower() in MISSING:
            raise _file_error(
                table.name, f"whose line {reader.line_num} has no value in the target column {table.target!r}"
            )
        values = [
            _number(table, row[at], name, reader.line_num) for at, name in zip(feature_at, table.features, strict=True)
        ]
        table.rows += 1
        table.class_counts[label] += 1
        if keep:
            table.values.append(values)
            table.labels.append(label)
    table.complete = True


def _number(table: Table, cell: str, column: str, line: int) -> float:
    text = cell.strip()
    if text.lower() in MISSING:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    else:
        if math.isfinite(value):
            return value
    if "\x00" in cell:
        raise _not_text(table.name, line)
    raise _file_error(
        table.name,
        f"whose column {column!r} is not numeric (line {line} has {cell!r}): leave it out with {IGNORE_FIELD}, "
        f"or choose it as {TARGET_FIELD}",
    )


def check_classes(table: Table, folds: int) -> None:
    """TableError unless the target holds classes that ``folds`` stratified folds can split.

    Only a complete table is judged on its counts: later rows may add classes or rows."""
    counts = table.class_counts
    numbers = [_float(label) for label in counts]
    whole = [n.is_integer() for n in numbers if n is not None]
    if len(counts) > _CONTINUOUS_AFTER and len(whole) == len(numbers) and not all(whole):
        examples = ", ".join(list(counts)[:3])
        raise TableError(
            f"{TARGET_FIELD} has value {table.target!r}, a column of {len(counts)} distinct numbers "
            f"({examples}, ...): this plugin trains classifiers, which need a column of classes"
        )
    if not table.complete:
        return
    if len(counts) < 2:
        label = next(iter(counts))
        raise TableError(
            f"{TARGET_FIELD} has value {table.target!r}, whose column holds one class only ({label!r} in all "
            f"{table.rows} rows): a classifier needs two or more"
        )
    label, fewest = min(counts.items(), key=lambda item: (item[1], item[0]))
    if fewest < folds:
        advice = (
            f"choose at most {fewest} folds"
            if fewest >= 2
            else "cross-validation needs at least 2 rows of each class: drop its rows or choose another target"
        )
        raise TableError(
            f"{FOLDS_FIELD} has value {folds}, but the class {label!r} of {table.target!r} has only {fewest} "
            f"row{'s' if fewest != 1 else ''} and every fold must hold each class: {advice}"
        )


def check_neighbors(table: Table, family: str, grid: Sequence[float], folds: int) -> None:
    """knn cannot ask for more neighbours than a fold trains on (judged on a complete table)."""
    if family != "knn" or not table.complete:
        return
    trains_on = table.rows - math.ceil(table.rows / folds)
    too_many = [value for value in grid if value > trains_on]
    if too_many:
        raise TableError(
            f"{GRID_FIELD} has the value {too_many[0]:g}, but knn's n_neighbors cannot exceed the {trains_on} "
            f"rows each of the {folds} folds trains on"
        )


def class_labels(labels: Sequence[str]) -> list[int] | list[str]:
    """The target's classes as the model predicts them: whole numbers when every one is."""
    try:
        return [int(label) for label in labels]
    except ValueError:
        return list(labels)


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _file_error(shown: str, what: str) -> TableError:
    return TableError(f"{CSV_FIELD} has value {shown!r}, {what}")


def _not_text(shown: str, line: int) -> TableError:
    return _file_error(shown, f"which is not a CSV file: line {line} holds a NUL byte (a binary file?)")


def _listed(columns: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in columns[:_LISTED_COLUMNS])
    more = len(columns) - _LISTED_COLUMNS
    return f"{shown}, and {more} more" if more > 0 else shown


def _suggest(name: str, columns: Sequence[str]) -> str:
    close = [column for column in columns if column.lower() == name.strip().lower()]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"its columns: {_listed(columns)}{hint}"

"""What a finished task means for the user: the exit code, and its result printed or written.

A RescueBox batch of texts (``texts``, as the audio transcriber answers) prints each text under
its title; any other result prints as its fields, a list of rows as a table (or, with
``--json``, as JSON). Files a result lists for download (``files_dir`` and ``files: [{"name"}]``)
are downloaded with ``--output``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path, PurePath
from typing import Any, TextIO

from live_progress.cli.service import TaskState

EXIT_OK = 0
EXIT_FAILED = 1  # the task failed, an item of its batch failed, or the service was lost
EXIT_USAGE = 2  # bad arguments, or the service refused them (bad folder, unknown task)
EXIT_CANCELLED = 3
EXIT_INTERRUPTED = 130  # Ctrl-C: detached, the task goes on

CANCELLED = "Task cancelled"


def exit_code(final: TaskState) -> int:
    if final.kind == "error":
        return EXIT_CANCELLED if final.root.get("value") == CANCELLED else EXIT_FAILED
    return EXIT_FAILED if failed_texts(final.root) else EXIT_OK


def is_batch(root: Any) -> bool:
    """A RescueBox batch of texts: ``{"texts": [{"title", "value", "subtitle"}, ...], ...}``."""
    return (
        isinstance(root, dict)
        and isinstance(root.get("texts"), list)
        and all(isinstance(text, dict) and isinstance(text.get("value"), str) for text in root["texts"])
    )


def failed_texts(root: Any) -> list[dict[str, Any]]:
    return [text for text in root["texts"] if text.get("subtitle") == "error"] if is_batch(root) else []


def ok_texts(root: Any) -> list[dict[str, Any]]:
    return [text for text in root["texts"] if text.get("subtitle") != "error"] if is_batch(root) else []


def listed_files(root: Any) -> list[str]:
    """The names of the files a result lists for download (``GET <endpoint>/files/<id>?name=``)."""
    if (
        not isinstance(root, dict)
        or not isinstance(root.get("files_dir"), str)
        or not isinstance(root.get("files"), list)
    ):
        return []
    return [file["name"] for file in root["files"] if isinstance(file, dict) and isinstance(file.get("name"), str)]


def print_texts(root: dict[str, Any], out: TextIO) -> None:
    for text in ok_texts(root):
        print(f"# {text['title']}", file=out)
        print(text["value"], file=out)
        print(file=out)


def output_names(titles: list[str]) -> dict[str, PurePath]:
    """Where each text goes under --output: its title's path below the titles' common folder,
    as ``<stem>.txt``, or ``<name>.txt`` where two would share a stem."""
    if not titles:
        return {}
    paths = [PurePath(title) for title in titles]
    base = PurePath(os.path.commonpath([path.parent for path in paths]))
    relative = [path.relative_to(base) for path in paths]
    stems = Counter(path.with_suffix(".txt") for path in relative)
    return {
        title: path.with_suffix(".txt") if stems[path.with_suffix(".txt")] == 1 else path.with_name(f"{path.name}.txt")
        for title, path in zip(titles, relative, strict=True)
    }


def write_texts(root: dict[str, Any], folder: Path) -> list[Path]:
    texts = ok_texts(root)
    names = output_names([text["title"] for text in texts])
    written = []
    for text in texts:
        target = folder / names[text["title"]]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"{text['value']}\n", encoding="utf-8")
        written.append(target)
    return written


def print_json(root: Any, out: TextIO) -> None:
    print(json.dumps(root, indent=2, ensure_ascii=False), file=out)


def print_result(root: Any, out: TextIO) -> None:
    """A result that is not a batch of texts, for a person: each field on its own line, an
    object's fields indented under it, a list of rows as a table. The page shows it the same way
    (result-view.js). Files listed for download are left to the caller."""
    if not isinstance(root, dict):
        print_json(root, out)
        return
    files = bool(listed_files(root))
    for key, value in root.items():
        if not (key == "files" and files):
            for line in field_lines(key, value):
                print(line, file=out)


def field_lines(key: str, value: Any, depth: int = 0) -> list[str]:
    """``key: value`` as lines: an object of plain values on one line (``mean 0.93 · std 0.02``),
    another object's fields indented below it, a list of plain values comma-separated, a list of
    rows as a table below it, anything deeper as JSON."""
    if _is_rows(value):
        return [f"{key}:", *(f"  {line}" for line in table(value))]
    if isinstance(value, dict) and value and not any(_is_structure(item) for item in value.values()):
        return [f"{key}: " + " · ".join(f"{name} {shown(item)}" for name, item in value.items())]
    if isinstance(value, dict) and value and depth < 2:
        nested = [line for name, item in value.items() for line in field_lines(name, item, depth + 1)]
        return [f"{key}:", *(f"  {line}" for line in nested)]
    if isinstance(value, list) and not any(_is_structure(item) for item in value):
        return [f"{key}: " + (", ".join(shown(item) for item in value) if value else "none")]
    return [f"{key}: {shown(value)}"]


def table(rows: list[dict[str, Any]]) -> list[str]:
    """Rows as aligned columns, a header of their keys first (every key any row has, in order)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [columns, *([shown(row.get(column)) for column in columns] for row in rows)]
    widths = [max(len(line[n]) for line in cells) for n in range(len(columns))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells]


def shown(value: Any) -> str:
    """A value as text: floats to four decimals at most (three digits when smaller), lists and
    objects as compact JSON. The page shows them the same way (result-view.js)."""
    if value is None:
        return ""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        if value != 0 and abs(value) < 1e-4:
            return f"{value:.3g}"
        return f"{value:.4f}".rstrip("0").rstrip(".")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _is_structure(value: Any) -> bool:
    return isinstance(value, dict | list)


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(row, dict) for row in value)


def download_target(folder: Path, name: str) -> Path:
    """Where the listed file ``name`` goes under ``folder``: never outside it."""
    target = (folder / name).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise ValueError(f"The result lists a file {name!r} that would land outside {folder}")
    return target

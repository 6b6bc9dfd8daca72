"""What a finished task means for the user: the exit code, and the transcripts printed or written."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path, PurePath
from typing import Any, TextIO

from live_progress.cli.service import TaskState

EXIT_OK = 0
EXIT_FAILED = 1  # the task failed, a file could not be transcribed, or the service was lost
EXIT_USAGE = 2  # bad arguments, or the service refused them (bad folder, unknown task)
EXIT_CANCELLED = 3
EXIT_INTERRUPTED = 130  # Ctrl-C: detached, the task goes on

CANCELLED = "Task cancelled"


def exit_code(final: TaskState) -> int:
    if final.kind == "error":
        return EXIT_CANCELLED if final.root.get("value") == CANCELLED else EXIT_FAILED
    return EXIT_FAILED if failed_texts(final.root) else EXIT_OK


def failed_texts(root: dict[str, Any]) -> list[dict[str, Any]]:
    return [text for text in root.get("texts", []) if text.get("subtitle") == "error"]


def transcribed_texts(root: dict[str, Any]) -> list[dict[str, Any]]:
    return [text for text in root.get("texts", []) if text.get("subtitle") != "error"]


def print_transcripts(root: dict[str, Any], out: TextIO) -> None:
    for text in transcribed_texts(root):
        print(f"# {text['title']}", file=out)
        print(text["value"], file=out)
        print(file=out)


def output_names(titles: list[str]) -> dict[str, PurePath]:
    """Where each file's transcript goes under --output: its path below the files' common folder,
    as ``<stem>.txt``, or ``<name>.txt`` where two files would share a stem."""
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


def write_transcripts(root: dict[str, Any], folder: Path) -> list[Path]:
    texts = transcribed_texts(root)
    names = output_names([text["title"] for text in texts])
    written = []
    for text in texts:
        target = folder / names[text["title"]]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"{text['value']}\n", encoding="utf-8")
        written.append(target)
    return written

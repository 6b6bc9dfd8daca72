"""Folder suggestions for a folder field: where the path typed so far can lead, under ALLOWED_ROOTS.

Cheap by design, as it answers while someone types: at most ``MAX_FOLDERS`` folders, found
among the first ``MAX_ENTRIES`` entries of the folder listed (``truncated`` says there were
more), and for
each a count of the files the task would take that looks at no more than ``SCAN_BUDGET``
directory entries (recursively, depth first, without following symlinks); past that the
count is a lower bound (``counted_all`` false). The folder named is checked as submit
checks it (absolute, inside ALLOWED_ROOTS after ``..`` and symlinks are resolved, a folder),
and a subfolder whose real path lies outside ALLOWED_ROOTS is never offered.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from live_progress.plugin import resolve_folder
from live_progress.web.errors import InputError

MAX_FOLDERS = 50
MAX_ENTRIES = 5_000  # entries of the folder listed that are looked at
SCAN_BUDGET = 500

Accepts = Callable[[str], bool]


def suggest_folders(typed: str, allowed_roots: Sequence[Path], accepts: Accepts) -> dict[str, Any]:
    """The folders ``typed`` can lead to.

    Nothing yet, or the beginning of an allowed root's path: those roots. A path ending in
    ``/``: that folder's subfolders. Otherwise: the subfolders of its parent whose names
    begin with its last part. Raises InputError (4xx) as submit would for the folder named.
    """
    if not typed:
        return _answer([(str(root), root) for root in allowed_roots], accepts)
    if not typed.startswith(os.sep):
        raise InputError(f"prefix has value {typed!r}; it must be an absolute path")
    # A root whose path begins with what was typed, unless it is the folder to list ("/" itself).
    roots = [r for r in allowed_roots if str(r).startswith(typed) and not (typed.endswith(os.sep) and Path(typed) == r)]
    if roots:
        return _answer([(str(root), root) for root in roots], accepts)
    parent, _, start = typed.rpartition(os.sep)
    folder = resolve_folder(parent + os.sep, allowed_roots, "prefix")
    try:
        found, complete = _subfolders(folder, parent, start, allowed_roots)
    except OSError as exc:
        raise InputError(f"prefix has value {typed!r}, whose folder cannot be read: {exc.strerror}") from None
    return _answer(found, accepts, truncated=not complete)


def _subfolders(
    folder: Path, parent: str, start: str, allowed_roots: Sequence[Path]
) -> tuple[list[tuple[str, Path]], bool]:
    """Subfolders of ``folder`` whose names begin with ``start`` and whose real paths are
    allowed, shown under ``parent`` as typed; and whether every entry was looked at."""
    found: list[tuple[str, Path]] = []
    complete = True
    with os.scandir(folder) as entries:
        for looked, entry in enumerate(entries):
            if looked == MAX_ENTRIES:
                complete = False
                break
            if not entry.name.startswith(start) or (entry.name.startswith(".") and not start.startswith(".")):
                continue
            try:
                # Follows a symlink: one to a folder inside the roots is as good as a folder.
                if not entry.is_dir():
                    continue
                real = Path(entry.path).resolve()
            except (OSError, RuntimeError):  # a symlink loop, no permission
                continue
            if any(real.is_relative_to(root) for root in allowed_roots):
                found.append((f"{parent}{os.sep}{entry.name}", real))
    return sorted(found), complete


def _answer(found: list[tuple[str, Path]], accepts: Accepts, truncated: bool = False) -> dict[str, Any]:
    folders = []
    for shown, real in found[:MAX_FOLDERS]:
        count, counted_all = count_files(real, accepts)
        folders.append({"path": shown, "files": count, "counted_all": counted_all})
    return {"folders": folders, "truncated": truncated or len(found) > MAX_FOLDERS}


def count_files(folder: Path, accepts: Accepts, budget: int = SCAN_BUDGET) -> tuple[int, bool]:
    """How many files under ``folder`` ``accepts`` (by name), and whether that is all of them."""
    count = 0
    pending = [str(folder)]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    budget -= 1
                    if budget < 0:
                        return count, False
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    elif accepts(entry.name):
                        count += 1
        except OSError:
            continue  # unreadable: not counted, as submit would not find its files either
    return count, True

"""A finished task reported to the user: its error, or its result on stdout (``--json``: as JSON)
or into ``--output DIR``, with the files it lists downloaded there; and the exit code."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from live_progress.cli.follow import say
from live_progress.cli.results import (
    CANCELLED,
    EXIT_FAILED,
    download_target,
    exit_code,
    failed_texts,
    is_batch,
    listed_files,
    print_json,
    print_result,
    print_texts,
    write_texts,
)
from live_progress.cli.service import Service, ServiceError, TaskState

RESULT_FILE = "result.json"


def report(args: argparse.Namespace, service: Service, path: str, task_id: str, final: TaskState) -> int:
    root = final.root
    if final.kind == "error":
        say(root["value"] if root["value"] == CANCELLED else f"error: {root['value']}")
        return exit_code(final)
    for text in failed_texts(root):
        say(f"error: {text['title']}: {text['value']}")
    if args.output:
        _write(root, args.output, args.json)
    elif args.json:
        print_json(root, sys.stdout)
    elif is_batch(root):
        print_texts(root, sys.stdout)
    else:
        print_result(root, sys.stdout)
    code = exit_code(final)
    try:
        _files(args, service, path, task_id, root)
    except (ServiceError, ValueError, OSError) as exc:
        say(f"error: {exc}")
        return EXIT_FAILED
    return code


def _write(root: Any, folder: Path, as_json: bool) -> None:
    """A batch's texts as ``.txt`` files, or else (or with --json) the result as result.json."""
    if is_batch(root) and not as_json:
        written = write_texts(root, folder)
        say(f"Wrote {len(written)} texts to {folder}")
        return
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / RESULT_FILE
    target.write_text(json.dumps(root, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    say(f"Wrote the result to {target}")


def _files(args: argparse.Namespace, service: Service, path: str, task_id: str, root: Any) -> None:
    names = listed_files(root)
    if not names:
        return
    if not args.output:
        listed = ", ".join(names)
        say(f"Files: {listed} (in {root['files_dir']}); --output DIR downloads them")
        return
    for name in names:
        service.download(path, task_id, name, download_target(args.output, name))
    say(f"Downloaded {len(names)} file{'s' if len(names) != 1 else ''} to {args.output}: {', '.join(names)}")

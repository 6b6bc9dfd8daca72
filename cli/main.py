"""``live-progress transcribe FOLDER`` and ``live-progress watch TASK_ID``."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from cli.display import open_display
from cli.eta import ProgressClock
from cli.results import (
    CANCELLED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    exit_code,
    failed_texts,
    print_transcripts,
    write_transcripts,
)
from cli.service import Service, ServiceError, TaskState

DEFAULT_URL = "http://127.0.0.1:8000"


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=environ.get("LIVE_PROGRESS_URL") or DEFAULT_URL,
        help="the service (default: $LIVE_PROGRESS_URL or %(default)s)",
    )
    common.add_argument(
        "--token",
        default=environ.get("LIVE_PROGRESS_TOKEN"),
        help="sent as 'Authorization: Bearer TOKEN' (default: $LIVE_PROGRESS_TOKEN)",
    )
    common.add_argument("--poll", action="store_true", help="poll the result endpoint instead of following the stream")
    common.add_argument(
        "--interval", type=_positive_seconds, default=1.0, help="seconds between polls (default: %(default)s)"
    )
    common.add_argument("--output", "-o", type=Path, metavar="DIR", help="write transcripts to DIR instead of printing")
    common.add_argument(
        "--cancel-on-interrupt", action="store_true", help="Ctrl-C cancels the task (by default it only detaches)"
    )
    parser = argparse.ArgumentParser(
        prog="live-progress", description="Transcribe a folder of audio with the service and watch its progress."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    transcribe = commands.add_parser("transcribe", parents=[common], help="submit a folder and follow it")
    transcribe.add_argument("folder", type=Path, help="a folder of audio files the service can read")
    watch = commands.add_parser("watch", parents=[common], help="follow a task submitted before")
    watch.add_argument("task_id")
    return parser


def _positive_seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{raw!r} must be more than 0")
    return value


def watch_command(args: argparse.Namespace, task_id: str) -> str:
    """The command that follows this task again, with the options that matter for it."""
    words = ["live-progress", "watch", task_id]
    if args.url != DEFAULT_URL:
        words += ["--url", args.url]
    if args.poll:
        words.append("--poll")
    if args.output:
        words += ["--output", str(args.output)]
    return shlex.join(words)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(os.environ).parse_args(argv)
    stderr = sys.stderr
    try:
        with Service(args.url, args.token) as service:
            return _run(args, service, stderr)
    except ServiceError as exc:
        _say(stderr, f"error: {exc}")
        return EXIT_USAGE if 400 <= exc.status < 500 else EXIT_FAILED
    except KeyboardInterrupt:
        # Before there was a task to follow, or a second Ctrl-C while cancelling.
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace, service: Service, stderr: TextIO) -> int:
    started = time.monotonic()
    if args.command == "transcribe":
        folder = str(args.folder.expanduser().resolve())
        task_id = service.submit(folder)
        _say(stderr, f"Submitted {folder} as task {task_id}")
    else:
        task_id = args.task_id
    try:
        final = _follow(args, service, stderr, task_id, started)
    except KeyboardInterrupt:
        return _interrupted(args, service, stderr, task_id)
    except ServiceError as exc:
        if exc.status:
            raise
        _say(stderr, f"error: {exc}\nThe task may go on. Follow it again with:\n  {watch_command(args, task_id)}")
        return EXIT_FAILED
    return _report(args, stderr, final)


def _follow(args: argparse.Namespace, service: Service, stderr: TextIO, task_id: str, started: float) -> TaskState:
    display = open_display(stderr, ProgressClock(started))
    if args.poll:
        _say(stderr, f"Polling {args.url} every {args.interval:g} s")
        states = service.poll(task_id, args.interval, display.notice)
    else:
        _say(stderr, f"Following {args.url} over Server-Sent Events")
        states = service.stream(task_id, display.notice)
    try:
        with contextlib.closing(states):
            for state in states:
                display.update(state, time.monotonic())
                if state.final:
                    return state
    finally:
        display.close()
    raise ServiceError(f"The updates of task {task_id} ended before it did")


def _interrupted(args: argparse.Namespace, service: Service, stderr: TextIO, task_id: str) -> int:
    if not args.cancel_on_interrupt:
        again = watch_command(args, task_id)
        _say(stderr, f"Detached from task {task_id}; it goes on. Follow it again with:\n  {again}")
        return EXIT_INTERRUPTED
    if not service.cancel(task_id):
        _say(stderr, f"Task {task_id} had already finished. See it with:\n  {watch_command(args, task_id)}")
        return EXIT_INTERRUPTED
    _say(stderr, f"Cancelling task {task_id}")
    return _report(args, stderr, _follow(args, service, stderr, task_id, time.monotonic()))


def _report(args: argparse.Namespace, stderr: TextIO, final: TaskState) -> int:
    root = final.root
    if final.kind == "error":
        _say(stderr, root["value"] if root["value"] == CANCELLED else f"error: {root['value']}")
        return exit_code(final)
    for text in failed_texts(root):
        _say(stderr, f"error: could not transcribe {text['title']}: {text['value']}")
    if args.output:
        written = write_transcripts(root, args.output)
        _say(stderr, f"Wrote {len(written)} transcripts to {args.output}")
    else:
        print_transcripts(root, sys.stdout)
    return exit_code(final)


def _say(out: TextIO, text: str) -> None:
    print(text, file=out, flush=True)


if __name__ == "__main__":
    sys.exit(main())

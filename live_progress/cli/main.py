"""``live-progress transcribe FOLDER`` and ``live-progress watch TASK_ID``."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType

from live_progress.cli.display import open_display, open_many_display, segment_line, short
from live_progress.cli.eta import ProgressClock
from live_progress.cli.results import (
    CANCELLED,
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    exit_code,
    failed_texts,
    print_transcripts,
    write_transcripts,
)
from live_progress.cli.service import Service, ServiceError, TaskState

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
    common.add_argument(
        "--no-segments",
        dest="segments",
        action="store_false",
        help="do not print the transcript as it is made (live segments go to stderr, above the bar)",
    )
    parser = argparse.ArgumentParser(
        prog="live-progress", description="Transcribe a folder of audio with the service and watch its progress."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    transcribe = commands.add_parser("transcribe", parents=[common], help="submit a folder and follow it")
    transcribe.add_argument("folder", type=Path, help="a folder of audio files the service can read")
    watch = commands.add_parser(
        "watch", parents=[common], help="follow tasks submitted before (several: over one stream, a bar each)"
    )
    watch.add_argument("task_ids", nargs="+", metavar="task_id")
    return parser


def _positive_seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{raw!r} must be more than 0")
    return value


def watch_command(args: argparse.Namespace, *task_ids: str) -> str:
    """The command that follows these tasks again, with the options that matter for them."""
    words = ["live-progress", "watch", *task_ids]
    if args.url != DEFAULT_URL:
        words += ["--url", args.url]
    if args.poll:
        words.append("--poll")
    if args.output:
        words += ["--output", str(args.output)]
    return shlex.join(words)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(os.environ).parse_args(argv)
    try:
        with Service(args.url, args.token) as service:
            return _run(args, service)
    except ServiceError as exc:
        _say(f"error: {exc}")
        return EXIT_USAGE if 400 <= exc.status < 500 else EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED  # before there was a task to follow


def _run(args: argparse.Namespace, service: Service) -> int:
    started = time.monotonic()
    if args.command == "transcribe":
        folder = str(args.folder.expanduser().resolve())
        task_ids = [service.submit(folder)]
        _say(f"Submitted {folder} as task {task_ids[0]}")
    else:
        task_ids = list(dict.fromkeys(args.task_ids))
    if len(task_ids) > 1 and args.poll:
        _say("error: --poll follows one task; give one id, or leave out --poll to follow them all over one stream")
        return EXIT_USAGE
    again = watch_command(args, *task_ids)
    try:
        with _cancel_on_interrupt(args, task_ids) if args.cancel_on_interrupt else contextlib.nullcontext():
            if len(task_ids) > 1:
                return _report_many(args, _follow_many(args, service, task_ids, started))
            task_id = task_ids[0]
            final = _follow(args, service, task_id, started)
    except KeyboardInterrupt:
        _say(f"Detached from {_tasks(task_ids)}; it goes on. Follow it again with:\n  {again}")
        return EXIT_INTERRUPTED
    except ServiceError as exc:
        if exc.status:
            raise
        them = "The task" if len(task_ids) == 1 else "The tasks"
        _say(f"error: {exc}\n{them} may go on. Follow it again with:\n  {again}")
        return EXIT_FAILED
    return _report(args, final)


def _tasks(task_ids: list[str]) -> str:
    return f"task {task_ids[0]}" if len(task_ids) == 1 else f"{len(task_ids)} tasks"


@contextlib.contextmanager
def _cancel_on_interrupt(args: argparse.Namespace, task_ids: list[str]) -> Iterator[None]:
    """The first Ctrl-C cancels the tasks, and following goes on to the cancelled states on the
    same stream; a second one detaches."""

    def cancel(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _say(f"Cancelling {_tasks(task_ids)} (Ctrl-C again to detach)")
        # A client of its own: the interrupted one may be in the middle of a request.
        try:
            with Service(args.url, args.token) as service:
                for task_id in task_ids:
                    if not service.cancel(task_id):
                        _say(f"Task {task_id} had already finished")
        except ServiceError as exc:
            _say(f"error: could not cancel: {exc}")

    previous = signal.signal(signal.SIGINT, cancel)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _follow(args: argparse.Namespace, service: Service, task_id: str, started: float) -> TaskState:
    display = open_display(sys.stderr, ProgressClock(started))
    if args.poll:
        _say(f"Polling {args.url} every {args.interval:g} s")
        states = service.poll(task_id, args.interval, display.notice)
    else:
        _say(f"Following {args.url} over Server-Sent Events")
        states = service.stream(task_id, display.notice)
    try:
        with contextlib.closing(states):
            for state in states:
                if state.kind == "segment":
                    if args.segments:
                        display.notice(segment_line(state.root))
                    continue
                display.update(state, time.monotonic())
                if state.final:
                    return state
    finally:
        display.close()
    raise ServiceError(f"The updates of task {task_id} ended before it did")


def _follow_many(
    args: argparse.Namespace, service: Service, task_ids: list[str], started: float
) -> dict[str, TaskState]:
    display = open_many_display(sys.stderr, task_ids, started)
    _say(f"Following {len(task_ids)} tasks at {args.url} over one Server-Sent Events stream")
    finals: dict[str, TaskState] = {}
    states = service.stream_many(task_ids, display.notice)
    try:
        with contextlib.closing(states):
            for task_id, state in states:
                if state.kind == "segment":
                    if args.segments:
                        display.notice(f"{short(task_id)}  {segment_line(state.root)}")
                    continue
                display.update(task_id, state, time.monotonic())
                if state.final:
                    finals[task_id] = state
    finally:
        display.close()
    missing = [task_id for task_id in task_ids if task_id not in finals]
    if missing:
        raise ServiceError(f"The updates ended before task {', '.join(missing)} did")
    return finals


def _report_many(args: argparse.Namespace, finals: dict[str, TaskState]) -> int:
    """Each task's report in turn; the exit code of the worst (failed, then cancelled)."""
    codes = []
    for task_id, final in finals.items():
        _say(f"Task {task_id}:")
        codes.append(_report(args, final))
    return max(codes, key=lambda code: (code == EXIT_FAILED, code == EXIT_CANCELLED, code))


def _report(args: argparse.Namespace, final: TaskState) -> int:
    root = final.root
    if final.kind == "error":
        _say(root["value"] if root["value"] == CANCELLED else f"error: {root['value']}")
        return exit_code(final)
    for text in failed_texts(root):
        _say(f"error: could not transcribe {text['title']}: {text['value']}")
    if args.output:
        written = write_transcripts(root, args.output)
        _say(f"Wrote {len(written)} transcripts to {args.output}")
    else:
        print_transcripts(root, sys.stdout)
    return exit_code(final)


def _say(text: str) -> None:
    # sys.stderr looked up each time: while a progress bar is drawn, rich puts its own there.
    print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())

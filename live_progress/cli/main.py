"""``live-progress submit ENDPOINT``, ``live-progress transcribe FOLDER`` and ``live-progress watch TASK_ID``."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from live_progress.cli.follow import cancel_on_interrupt, describe_tasks, endpoints_of, follow_many, follow_one, say
from live_progress.cli.report import report
from live_progress.cli.results import EXIT_CANCELLED, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE
from live_progress.cli.schema import EndpointInfo, UsageError, find_endpoint, request_body, typed_parameters
from live_progress.cli.service import Service, ServiceError

DEFAULT_URL = "http://127.0.0.1:8000"
# ``transcribe FOLDER`` is ``submit audio/transcribe --input input_dir=FOLDER``.
TRANSCRIBE = "audio/transcribe"
TRANSCRIBE_INPUT = "input_dir"


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
    common.add_argument(
        "--output",
        "-o",
        type=Path,
        metavar="DIR",
        help="write the result to DIR instead of printing it (a batch's texts as .txt files, any other "
        "result as result.json), and download there the files it lists",
    )
    common.add_argument("--json", action="store_true", help="print (or write) the result as JSON")
    common.add_argument(
        "--cancel-on-interrupt", action="store_true", help="Ctrl-C cancels the task (by default it only detaches)"
    )
    common.add_argument(
        "--no-segments",
        "--no-live-results",
        dest="segments",
        action="store_false",
        help="do not print the live results as they come (they go to stderr, above the bar)",
    )
    parameters = argparse.ArgumentParser(add_help=False)
    parameters.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the endpoint, typed as its task_schema says (repeat for several)",
    )
    parser = argparse.ArgumentParser(
        prog="live-progress", description="Submit jobs to the service and watch their progress."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    submit = commands.add_parser(
        "submit",
        parents=[common, parameters],
        help="submit a job to any endpoint (PLUGIN/ENDPOINT, e.g. audio/inspect) and follow it",
    )
    submit.add_argument("endpoint", metavar="PLUGIN/ENDPOINT", help="an endpoint's path, as GET /api/plugins lists it")
    submit.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an input of the endpoint: a path for a directory or file input, text for a text input",
    )
    transcribe = commands.add_parser(
        "transcribe", parents=[common, parameters], help=f"submit a folder of audio ({TRANSCRIBE}) and follow it"
    )
    transcribe.add_argument("folder", type=Path, help="a folder of audio files the service can read")
    watch = commands.add_parser(
        "watch", parents=[common], help="follow tasks submitted before (several: over one stream, a bar each)"
    )
    watch.add_argument("task_ids", nargs="+", metavar="task_id")
    watch.add_argument(
        "--endpoint",
        metavar="PLUGIN/ENDPOINT",
        help="the endpoint that issued the tasks (default: asks each endpoint of the service)",
    )
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
    if args.json:
        words.append("--json")
    return shlex.join(words)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(os.environ).parse_args(argv)
    try:
        with Service(args.url, args.token) as service:
            return _run(args, service)
    except UsageError as exc:
        say(f"error: {exc}")
        return EXIT_USAGE
    except ServiceError as exc:
        say(f"error: {exc}")
        return EXIT_USAGE if 400 <= exc.status < 500 else EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED  # before there was a task to follow


def _run(args: argparse.Namespace, service: Service) -> int:
    started = time.monotonic()
    if args.command == "watch":
        task_ids = list(dict.fromkeys(args.task_ids))
        if len(task_ids) > 1 and args.poll:
            say("error: --poll follows one task; give one id, or leave out --poll to follow them all over one stream")
            return EXIT_USAGE
        endpoints = endpoints_of(service, task_ids, args.endpoint, lambda: _offered(service))
    else:
        path, task_id = _submit(args, service)
        task_ids, endpoints = [task_id], {task_id: path}
    again = watch_command(args, *task_ids)
    try:
        with cancel_on_interrupt(args, endpoints) if args.cancel_on_interrupt else contextlib.nullcontext():
            if len(task_ids) > 1:
                finals = follow_many(args, service, endpoints, started)
            else:
                finals = {task_ids[0]: follow_one(args, service, endpoints[task_ids[0]], task_ids[0], started)}
    except KeyboardInterrupt:
        say(f"Detached from {describe_tasks(task_ids)}; it goes on. Follow it again with:\n  {again}")
        return EXIT_INTERRUPTED
    except ServiceError as exc:
        if exc.status:
            raise
        them = "The task" if len(task_ids) == 1 else "The tasks"
        say(f"error: {exc}\n{them} may go on. Follow it again with:\n  {again}")
        return EXIT_FAILED
    if len(finals) == 1:
        ((task_id, final),) = finals.items()
        return report(args, service, endpoints[task_id], task_id, final)
    # Each task's report in turn; the exit code of the worst (failed, then cancelled).
    codes = []
    for task_id, final in finals.items():
        say(f"Task {task_id}:")
        codes.append(report(args, service, endpoints[task_id], task_id, final))
    return max(codes, key=lambda code: (code == EXIT_FAILED, code == EXIT_CANCELLED, code))


def _submit(args: argparse.Namespace, service: Service) -> tuple[str, str]:
    """Submits what the command line says; returns the endpoint's path and the task's id."""
    if args.command == "transcribe":
        folder = str(args.folder.expanduser().resolve())
        # The endpoint's schema is only needed to type parameters.
        parameters = typed_parameters(_endpoint(service, TRANSCRIBE), args.param) if args.param else {}
        task_id = service.submit(TRANSCRIBE, {"inputs": {TRANSCRIBE_INPUT: {"path": folder}}, "parameters": parameters})
        say(f"Submitted {folder} as task {task_id}")
        return TRANSCRIBE, task_id
    endpoint = _endpoint(service, args.endpoint)
    body = request_body(endpoint, args.input, args.param)
    task_id = service.submit(endpoint.path, body)
    given = ", ".join(f"{key}={next(iter(value.values()))}" for key, value in body["inputs"].items())
    say(f"Submitted {endpoint.path} ({given}) as task {task_id}")
    return endpoint.path, task_id


def _endpoint(service: Service, path: str) -> EndpointInfo:
    return find_endpoint(EndpointInfo.listed(service.plugins()), path)


def _offered(service: Service) -> list[str]:
    return [endpoint.path for endpoint in EndpointInfo.listed(service.plugins())]


if __name__ == "__main__":
    sys.exit(main())

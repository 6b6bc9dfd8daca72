"""``live-progress submit ENDPOINT``, ``transcribe FOLDER``, ``watch TASK_ID`` and ``serve``: the command line.

Light on purpose: the client's commands (live_progress/cli/client.py) need the ``cli`` extra,
``serve`` (live_progress/cli/serve.py) the service's; each is imported only for its commands.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

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
    commands.add_parser(
        "serve",
        help="run the whole service here: web, worker, and a Redis when none answers at $REDIS_URL "
        "(the environment configures it: HOST, PORT, REDIS_URL, ...)",
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
    # Each command imports only its part: serve needs no client library, the client no launcher.
    if args.command == "serve":
        from live_progress.cli.serve import serve

        return serve()
    from live_progress.cli.client import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())

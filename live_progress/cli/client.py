"""The client's commands, ``submit``, ``transcribe`` and ``watch``: what they run once
live_progress/cli/main.py has read the command line."""

from __future__ import annotations

import argparse
import contextlib
import time

from live_progress.cli.follow import cancel_on_interrupt, describe_tasks, endpoints_of, follow_many, follow_one, say
from live_progress.cli.main import TRANSCRIBE, TRANSCRIBE_INPUT, watch_command
from live_progress.cli.report import report
from live_progress.cli.results import EXIT_CANCELLED, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE
from live_progress.cli.schema import EndpointInfo, UsageError, find_endpoint, request_body, typed_parameters
from live_progress.cli.service import Service, ServiceError


def run(args: argparse.Namespace) -> int:
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

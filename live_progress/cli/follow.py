"""Following tasks to their end: one over its stream (or by polling), several over one stream
per endpoint, with a bar each; Ctrl-C detaches, or cancels with ``--cancel-on-interrupt``."""

from __future__ import annotations

import argparse
import contextlib
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from types import FrameType

from live_progress.cli.display import live_line, open_display, open_many_display, short
from live_progress.cli.eta import ProgressClock
from live_progress.cli.service import Notify, Service, ServiceError, TaskState

# How often the merging of several endpoints' streams looks up from its queue, so that Ctrl-C
# is handled at once.
_WAKE_SECONDS = 0.2


def say(text: str) -> None:
    # sys.stderr looked up each time: while a progress bar is drawn, rich puts its own there.
    print(text, file=sys.stderr, flush=True)


def describe_tasks(task_ids: list[str]) -> str:
    return f"task {task_ids[0]}" if len(task_ids) == 1 else f"{len(task_ids)} tasks"


@contextlib.contextmanager
def cancel_on_interrupt(args: argparse.Namespace, endpoints: Mapping[str, str]) -> Iterator[None]:
    """The first Ctrl-C cancels the tasks (``endpoints``: each task's endpoint path), and following
    goes on to the cancelled states on the same streams; a second one detaches."""
    task_ids = list(endpoints)

    def cancel(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        say(f"Cancelling {describe_tasks(task_ids)} (Ctrl-C again to detach)")
        # A client of its own: the interrupted one may be in the middle of a request.
        try:
            with Service(args.url, args.token) as service:
                for task_id, path in endpoints.items():
                    if not service.cancel(path, task_id):
                        say(f"Task {task_id} had already finished")
        except ServiceError as exc:
            say(f"error: could not cancel: {exc}")

    previous = signal.signal(signal.SIGINT, cancel)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def follow_one(args: argparse.Namespace, service: Service, path: str, task_id: str, started: float) -> TaskState:
    display = open_display(sys.stderr, ProgressClock(started))
    if args.poll:
        say(f"Polling {args.url} every {args.interval:g} s")
        states = service.poll(path, task_id, args.interval, display.notice)
    else:
        say(f"Following {args.url} over Server-Sent Events")
        states = service.stream(path, task_id, display.notice)
    try:
        with contextlib.closing(states):
            for state in states:
                if state.kind == "segment":
                    if args.segments:
                        display.notice(live_line(state.root))
                    continue
                display.update(state, time.monotonic())
                if state.final:
                    return state
    finally:
        display.close()
    raise ServiceError(f"The updates of task {task_id} ended before it did")


def follow_many(
    args: argparse.Namespace, service: Service, endpoints: Mapping[str, str], started: float
) -> dict[str, TaskState]:
    """Each task's final state; ``endpoints`` maps each task to its endpoint's path. The tasks of
    one endpoint share one stream (the service's many-task stream is per endpoint)."""
    task_ids = list(endpoints)
    groups: dict[str, list[str]] = {}
    for task_id, path in endpoints.items():
        groups.setdefault(path, []).append(task_id)
    display = open_many_display(sys.stderr, task_ids, started)
    streams = "one Server-Sent Events stream" if len(groups) == 1 else f"{len(groups)} Server-Sent Events streams"
    say(f"Following {len(task_ids)} tasks at {args.url} over {streams}")
    finals: dict[str, TaskState] = {}
    try:
        for task_id, state in _merged(service, groups, display.notice):
            if state.kind == "segment":
                if args.segments:
                    display.notice(f"{short(task_id)}  {live_line(state.root)}")
                continue
            display.update(task_id, state, time.monotonic())
            if state.final:
                finals[task_id] = state
    finally:
        display.close()
    missing = [task_id for task_id in task_ids if task_id not in finals]
    if missing:
        raise ServiceError(f"The updates ended before task {', '.join(missing)} did")
    return {task_id: finals[task_id] for task_id in task_ids}


def _merged(service: Service, groups: dict[str, list[str]], notify: Notify) -> Iterator[tuple[str, TaskState]]:
    """The states of every group's stream as they come: one group is read here; several are
    read each in a thread of its own (daemon threads: a Ctrl-C that detaches leaves them)."""
    if len(groups) == 1:
        ((path, task_ids),) = groups.items()
        states = service.stream_many(path, task_ids, notify)
        with contextlib.closing(states):
            yield from states
        return
    # Each reader puts its states, then what it raised (if anything), then None.
    inbox: queue.Queue[tuple[str, TaskState] | BaseException | None] = queue.Queue()

    def read(path: str, task_ids: list[str]) -> None:
        try:
            for item in service.stream_many(path, task_ids, notify):
                inbox.put(item)
        except BaseException as exc:  # handed to the main thread, which raises it
            inbox.put(exc)
        finally:
            inbox.put(None)

    readers = [
        threading.Thread(target=read, args=(path, task_ids), daemon=True, name=f"follow {path}")
        for path, task_ids in groups.items()
    ]
    for reader in readers:
        reader.start()
    running = len(readers)
    while running:
        try:
            message = inbox.get(timeout=_WAKE_SECONDS)
        except queue.Empty:
            continue
        if message is None:
            running -= 1
        elif isinstance(message, BaseException):
            raise message
        else:
            yield message


def endpoints_of(
    service: Service, task_ids: list[str], endpoint: str | None, offered: Callable[[], list[str]]
) -> dict[str, str]:
    """Each task's endpoint path: ``endpoint`` when given, else the endpoint that issued it,
    found by asking each endpoint the service offers in turn."""
    if endpoint is not None:
        return {task_id: endpoint.strip("/") for task_id in task_ids}
    paths = offered()
    found: dict[str, str] = {}
    for task_id in task_ids:
        # The endpoint of the task before it first: tasks watched together are often alike.
        ordered = sorted(paths, key=lambda path: path not in found.values())
        found[task_id] = service.find_endpoint(task_id, ordered)
    return found

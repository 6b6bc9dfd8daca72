"""A task's progress on stderr: a rich progress bar on a terminal, or a line per change
when stderr is a file or a pipe (logs, CI)."""

from __future__ import annotations

import json
import time
from typing import Any, Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskProgressColumn, TextColumn
from rich.text import Text

from live_progress.cli.eta import ProgressClock, describe_remaining, format_duration
from live_progress.cli.service import TaskState

QUEUED = "Queued: waiting for a worker"


class Display(Protocol):
    def update(self, state: TaskState, now: float) -> None: ...
    def notice(self, text: str) -> None: ...
    def close(self) -> None: ...


def open_display(out: TextIO, clock: ProgressClock) -> Display:
    """A progress bar on a terminal, else a line per change."""
    return BarDisplay(Console(file=out), clock) if out.isatty() else LineDisplay(out, clock)


def times(clock: ProgressClock, now: float) -> str:
    return f"{format_duration(clock.elapsed(now))} elapsed, {describe_remaining(clock.remaining(now))}"


class _TimesColumn(ProgressColumn):
    def __init__(self, clock: ProgressClock) -> None:
        super().__init__()
        self._clock = clock

    def render(self, task: Task) -> Text:
        now = time.monotonic()
        text = f"took {format_duration(self._clock.elapsed(now))}" if task.finished else times(self._clock, now)
        return Text(text, style="progress.remaining")


class BarDisplay:
    def __init__(self, console: Console, clock: ProgressClock) -> None:
        self._clock = clock
        self._progress = Progress(
            BarColumn(),
            TaskProgressColumn(),
            _TimesColumn(clock),
            TextColumn("{task.description}", markup=False),
            console=console,
        )
        self._task = self._progress.add_task(QUEUED, total=100)
        self._progress.start()

    def update(self, state: TaskState, now: float) -> None:
        if state.kind == "progress":
            percent = state.root["percent"]
            self._clock.record(percent, now)
            self._progress.update(self._task, completed=percent, description=state.root["description"])
        elif state.kind == "result":
            self._progress.update(self._task, completed=100, description="Done")
        elif state.kind == "error":
            self._progress.update(self._task, description=state.root["value"])
        else:
            self._progress.update(self._task, description=QUEUED)

    def notice(self, text: str) -> None:
        self._progress.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        self._progress.stop()


class LineDisplay:
    # Plain writes: rich's buffered print can repeat a line when Ctrl-C lands inside it.
    def __init__(self, out: TextIO, clock: ProgressClock) -> None:
        self._out = out
        self._clock = clock
        self._last: tuple[int, str] | None = None

    def update(self, state: TaskState, now: float) -> None:
        if state.kind == "status":
            self.notice(QUEUED)
        elif state.kind == "progress":
            percent, description = state.root["percent"], state.root["description"] or "Started"
            self._clock.record(percent, now)
            if (percent, description) != self._last:
                self._last = (percent, description)
                self.notice(f"{percent:3d}%  {description}  ({times(self._clock, now)})")

    def notice(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def close(self) -> None:
        pass


class ManyDisplay(Protocol):
    def update(self, task_id: str, state: TaskState, now: float) -> None: ...
    def notice(self, text: str) -> None: ...
    def close(self) -> None: ...


def open_many_display(out: TextIO, task_ids: list[str], started: float) -> ManyDisplay:
    """A bar per task on a terminal, else a line per change naming the task."""
    clocks = {task_id: ProgressClock(started) for task_id in task_ids}
    return ManyBarDisplay(Console(file=out), clocks) if out.isatty() else ManyLineDisplay(out, clocks)


def live_line(root: dict[str, Any]) -> str:
    """A live result as one line: the ``line`` its task gave it, else its compact JSON."""
    line = root.get("line")
    if isinstance(line, str):
        return line
    return json.dumps(root, ensure_ascii=False, separators=(",", ":"))


def short(task_id: str) -> str:
    return task_id[:8]


def describe(state: TaskState) -> tuple[int | None, str]:
    """The percent (None: unchanged) and the words for a state."""
    if state.kind == "progress":
        return state.root["percent"], state.root["description"] or "Started"
    if state.kind == "result":
        return 100, "Done"
    if state.kind == "error":
        return None, state.root["value"]
    return None, QUEUED


class ManyBarDisplay:
    def __init__(self, console: Console, clocks: dict[str, ProgressClock]) -> None:
        self._clocks = clocks
        self._progress = Progress(
            TextColumn("{task.fields[name]}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.description}", markup=False),
            console=console,
        )
        self._bars = {task_id: self._progress.add_task(QUEUED, total=100, name=short(task_id)) for task_id in clocks}
        self._progress.start()

    def update(self, task_id: str, state: TaskState, now: float) -> None:
        percent, words = describe(state)
        if state.kind == "progress":
            self._clocks[task_id].record(state.root["percent"], now)
            words = f"{words}  ({times(self._clocks[task_id], now)})"
        self._progress.update(self._bars[task_id], completed=percent, description=words)

    def notice(self, text: str) -> None:
        self._progress.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        self._progress.stop()


class ManyLineDisplay:
    def __init__(self, out: TextIO, clocks: dict[str, ProgressClock]) -> None:
        self._out = out
        self._clocks = clocks
        self._last: dict[str, tuple[int | None, str]] = {}

    def update(self, task_id: str, state: TaskState, now: float) -> None:
        percent, words = describe(state)
        if state.kind == "progress":
            self._clocks[task_id].record(state.root["percent"], now)
        if self._last.get(task_id) != (percent, words):
            self._last[task_id] = (percent, words)
            shown = f"{percent:3d}%" if percent is not None else "    "
            self.notice(f"{short(task_id)}  {shown}  {words}")

    def notice(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def close(self) -> None:
        pass

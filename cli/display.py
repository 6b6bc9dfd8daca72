"""A task's progress on stderr: a rich progress bar on a terminal, or a line per change
when stderr is a file or a pipe (logs, CI)."""

from __future__ import annotations

import time
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskProgressColumn, TextColumn
from rich.text import Text

from cli.eta import ProgressClock, describe_remaining, format_duration
from cli.service import TaskState

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

"""The web process: ``uvicorn --factory live_progress.web.process:create_process_app`` (the Procfile's line).

What belongs to a whole process, and so never to ``create_app()``, which a project may mount
in its own app: the log handler, the cyclic GC's tuning, the exit signals' hook that ends
the streams, and the folder where several web processes pool their metrics. uvicorn sets up
its own logging in its ``Config``, not in the app it serves; this is the same line, drawn one
step further.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, cast

from live_progress.logs import configure_logging
from live_progress.web.metrics_folder import share_metrics
from live_progress.web.settings import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from live_progress.web.app import State


def create_process_app() -> Starlette:
    """The service's app, with this process's logging, GC, exit signals and metrics folder set up for it."""
    # First: prometheus_client reads its multiprocess folder once, when it is imported (by the app).
    shared = share_metrics()
    from live_progress.web.app import create_app

    settings = Settings.load()
    configure_logging(settings.log_format, logging.getLevelName(settings.log_level.upper()))
    app = create_app(settings)
    # The lifespan a host enters when it mounts the app (docs/design.md), run inside this one.
    run_app = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(served: Starlette) -> AsyncIterator[State]:
        try:
            async with run_app(served) as state:
                services = cast("State", state)["services"]
                restore_signals = on_exit_signals(services.streams.stop)
                # For the scrapes that the other processes answer.
                publishing = asyncio.create_task(services.metrics.publish_every()) if shared else None
                # After the start-up, so that what it built is frozen out of the collections.
                tune_gc(settings.gc_thresholds)
                try:
                    yield cast("State", state)
                finally:
                    restore_signals()
                    if publishing is not None:
                        publishing.cancel()
                        services.metrics.publish()
        finally:
            if shared is not None:
                _mark_process_dead(shared)

    app.router.lifespan_context = lifespan
    return app


def _mark_process_dead(folder: Path) -> None:
    """This process's live gauges (its open streams) stop counting; its counters stay in the sums."""
    from prometheus_client.multiprocess import mark_process_dead

    mark_process_dead(os.getpid(), str(folder))


def on_exit_signals(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` on SIGTERM or SIGINT, then the handler installed before (uvicorn's);
    returns how to put that handler back.

    uvicorn installs its exit handler before it loads a ``--factory`` app, so the patch
    sse-starlette makes to that handler on import comes too late to be called and its
    ``AppStatus`` is never set: chaining to the installed handler is what works."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    chained: dict[signal.Signals, Callable[[int, FrameType | None], Any]] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):  # no server's handler to pass the signal on to
            continue

        def handler(
            signum: int, frame: FrameType | None, previous: Callable[[int, FrameType | None], Any] = previous
        ) -> None:
            callback()
            previous(signum, frame)

        signal.signal(sig, handler)
        chained[sig] = previous

    def undo() -> None:
        for sig, previous in chained.items():
            signal.signal(sig, previous)

    return undo


def tune_gc(thresholds: tuple[int, int, int]) -> None:
    """Keep Python's cyclic GC from pausing a process that holds thousands of streams.

    With the default thresholds, 10,000 streams meant full collections that walked every
    stream's objects, reclaimed nothing, and paused the process for up to 1.8 s (latency
    p99 1.9 s, 50 us of CPU per event). Rarer collections (and the objects built at
    startup frozen out of them) gave p99 27 ms and 31 us per event. The cost: cyclic
    garbage that outlived a young collection waits longer for a full one.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)

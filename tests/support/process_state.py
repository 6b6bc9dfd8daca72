"""What belongs to a whole process, as text to compare: its log handlers, signal handlers and GC.

``create_app()`` must leave all of it as it found it (a project may mount the app in its own);
only the web process's factory (live_progress/web/process.py) may change it.
"""

from __future__ import annotations

import gc
import logging
import signal


def process_state() -> dict[str, str]:
    state = {}
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        handlers = [f"{type(handler).__qualname__}@{id(handler):x}" for handler in logger.handlers]
        state[f"logger {name or 'root'}"] = f"handlers={handlers} level={logger.level} propagate={logger.propagate}"
    for sig in (signal.SIGTERM, signal.SIGINT):
        # The handler object itself (signal keeps the one it was given), not its repr, which
        # may name a coroutine's current line.
        handler = signal.getsignal(sig)
        state[f"handler {sig.name}"] = f"{getattr(handler, '__qualname__', type(handler).__qualname__)}@{id(handler):x}"
    state["gc"] = f"enabled={gc.isenabled()} thresholds={gc.get_threshold()} frozen={gc.get_freeze_count()}"
    return state


def changes(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple[str, str]]:
    """What differs, each as (before, after)."""
    return {key: (before[key], after[key]) for key in before if before[key] != after[key]}

"""Log lines for both processes: plain text by default, JSON lines with LOG_FORMAT=json.

Standard library only. Each line names the task it is about when there is one: a record's
``task_id`` (``logger.info(..., extra={"task_id": ...})``), else the Celery task running.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]
LogLevel = Literal["debug", "info", "warning", "error"]
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _current_task_id() -> str | None:
    # Only where Celery is in use already: logging never imports it.
    if "celery" not in sys.modules:
        return None
    from celery import current_task

    return current_task.request.id if current_task else None


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        task_id = getattr(record, "task_id", None) or _current_task_id()
        if task_id:
            line["task_id"] = task_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class _Ours(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so configuring again replaces it."""


def configure_logging(log_format: LogFormat, level: int = logging.INFO) -> None:
    """One handler on the root logger, in the chosen format; calling again replaces it."""
    if log_format not in ("text", "json"):
        raise ValueError(f"Setting 'LOG_FORMAT' has value {log_format!r}. Use 'text' or 'json'.")
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Ours)]:
        root.removeHandler(handler)
    handler = _Ours(sys.stderr)
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(_TEXT))
    root.addHandler(handler)
    root.setLevel(level)
    if log_format == "json":
        # uvicorn's loggers have text handlers of their own: let their lines reach ours.
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True

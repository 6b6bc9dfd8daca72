"""Inspecting a folder of audio before transcribing it: duration, sample rate, channels, codec."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from live_progress import progress_meta
from live_progress.plugins.audio.worker.progress import Meta
from live_progress.plugins.audio.worker.transcription import find_audio_files

logger = logging.getLogger(__name__)


def probe(path: Path) -> dict[str, Any]:
    """What the container says about the file's first audio stream, without decoding it."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = next(iter(container.streams.audio), None)
            if stream is None:
                return {"error": "no audio stream"}
            context = stream.codec_context
            return {
                "duration_seconds": round(container.duration / 1_000_000, 3) if container.duration else None,
                "sample_rate": context.sample_rate,
                "channels": context.channels,
                # The codec's name, not the decoder FFmpeg picked for it (that says "mp3float").
                "codec": context.codec.long_name,
                "format": container.format.name,
                "bit_rate": container.bit_rate,
            }
    except (av.error.FFmpegError, OSError) as exc:
        return {"error": getattr(exc, "strerror", None) or str(exc)}


def describe(name: str, facts: dict[str, Any]) -> str:
    if "error" in facts:
        return f"Cannot read {name}: {facts['error']}"
    duration = facts["duration_seconds"]
    length = f"{duration:.1f} s" if duration is not None else "unknown length"
    channels = facts["channels"]
    return f"{length}, {facts['sample_rate']} Hz, {channels} channel{'s' if channels != 1 else ''}, {facts['codec']}"


def inspect_folder(folder: Path, on_progress: Callable[[Meta], None]) -> dict[str, Any]:
    """A RescueBox BatchTextResponse with one line per file, and the same facts as fields."""
    if not folder.is_dir():
        raise FileNotFoundError(f"input_dir {str(folder)!r} is not a folder (any more)")
    paths = find_audio_files(folder)
    texts, files = [], []
    for index, path in enumerate(paths):
        on_progress(
            progress_meta(
                min(99, 100 * index // max(len(paths), 1)),
                f"Inspecting {path.name} ({index + 1} of {len(paths)})",
                current=index + 1,
                total=len(paths),
            )
        )
        facts = probe(path)
        files.append({"path": str(path), **facts})
        texts.append(
            {
                "output_type": "text",
                "value": describe(path.name, facts),
                "title": str(path),
                "subtitle": "error" if "error" in facts else None,
            }
        )
    total = sum(f.get("duration_seconds") or 0 for f in files)
    return {"output_type": "batchtext", "texts": texts, "files": files, "total_duration_seconds": round(total, 3)}

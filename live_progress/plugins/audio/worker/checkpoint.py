"""A batch's outcome so far: each file's transcript, and where the batch stands when its worker stops
(saved as the job's checkpoint, ``live_progress.Job.hand_over``, read by the worker that resumes it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from live_progress import progress_meta
from live_progress.plugins.audio.worker.progress import Meta


@dataclass(frozen=True, slots=True)
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True, slots=True)
class TimedSegment:
    """A piece of a file's transcript: seconds into the file, its text, its words if timed."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        timed: dict[str, Any] = {"start": self.start, "end": self.end, "text": self.text}
        if self.words is not None:
            timed["words"] = [
                {"start": w.start, "end": w.end, "word": w.word, "probability": w.probability} for w in self.words
            ]
        return timed

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TimedSegment:
        words = data.get("words")
        return cls(
            float(data["start"]),
            float(data["end"]),
            data["text"],
            None if words is None else tuple(Word(**word) for word in words),
        )


@dataclass(frozen=True, slots=True)
class Transcript:
    path: Path
    text: str = ""
    error: str | None = None
    # In order; empty for a failed file (and for one finished by a worker older than them).
    segments: tuple[TimedSegment, ...] = ()
    # The files written for it, each {"format": "srt", "name": <path relative to transcripts_dir>}.
    files: tuple[dict[str, str], ...] = ()

    def as_text_response(self) -> dict[str, Any]:
        """A RescueBox ``TextResponse``: title is the file's path; errors say so in subtitle."""
        if self.error is not None:
            return {"output_type": "text", "value": self.error, "title": str(self.path), "subtitle": "error"}
        return {
            "output_type": "text",
            "value": self.text,
            "title": str(self.path),
            "subtitle": None,
            "files": [dict(written) for written in self.files],
        }

    def to_dict(self) -> dict[str, Any]:
        """What a checkpoint or a shared batch keeps of it (not its path: they know it)."""
        return {"text": self.text, "error": self.error, "segments": [s.as_dict() for s in self.segments]}

    @classmethod
    def from_dict(cls, path: Path, data: dict[str, Any]) -> Transcript:
        segments = tuple(TimedSegment.from_dict(s) for s in data.get("segments", ()))
        return cls(path, data["text"], data["error"], segments)


@dataclass(frozen=True, slots=True)
class Partial:
    """A file transcribed up to ``seconds``: its segments so far, in order."""

    index: int
    seconds: float
    segments: tuple[TimedSegment, ...]

    @property
    def prompt(self) -> str | None:
        """The text so far, which decoding the rest is conditioned on."""
        return " ".join(s.text for s in self.segments if s.text) or None

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "seconds": self.seconds, "segments": [s.as_dict() for s in self.segments]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Partial | None:
        """None for one saved by a worker that kept only texts: that file starts over, so its
        segments (and their times) come out complete."""
        if "segments" not in data:
            return None
        segments = tuple(TimedSegment.from_dict(s) for s in data["segments"])
        return cls(int(data["index"]), float(data["seconds"]), segments)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    paths: tuple[Path, ...]
    done: dict[int, Transcript] = field(default_factory=dict)
    partial: Partial | None = None
    percent: int = 0

    def waiting_meta(self) -> Meta:
        """The progress to show while no worker has the batch: where it stands, percent kept."""
        total = len(self.paths)
        return progress_meta(
            self.percent,
            f"Worker stopped; waiting for another to carry on ({len(self.done)} of {total} files done)",
            current=len(self.done),
            total=total,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "paths": [str(path) for path in self.paths],
            "done": {str(i): t.to_dict() for i, t in self.done.items()},
            "partial": None if self.partial is None else self.partial.to_dict(),
            "percent": self.percent,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        paths = tuple(Path(p) for p in data["paths"])
        partial = data["partial"]
        return cls(
            paths=paths,
            done={int(i): Transcript.from_dict(paths[int(i)], t) for i, t in data["done"].items()},
            partial=None if partial is None else Partial.from_dict(partial),
            percent=int(data["percent"]),
        )


class Handover(Exception):
    """The worker is stopping: the batch goes on elsewhere from ``checkpoint``."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        super().__init__(f"handing over at {checkpoint.percent}%")
        self.checkpoint = checkpoint


class StopRequested(Exception):
    """Raised between two segments of a file when the worker is stopping."""

    def __init__(self, seconds: float, segments: list[TimedSegment]) -> None:
        super().__init__(f"stopping at {seconds:.2f} s")
        self.seconds = seconds
        self.segments = segments

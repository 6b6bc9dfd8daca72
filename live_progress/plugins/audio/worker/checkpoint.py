"""A batch's outcome so far: each file's transcript, and where the batch stands (saved as the job's
checkpoint, read by the worker that resumes it after a SIGTERM's ``live_progress.Job.hand_over``
or a worker's death).

The checkpoint is kept current piece by piece, as fields of the job's checkpoint, so that no
save grows with the batch: ``paths`` once, ``done:<i>`` as each file ends, and for the file
begun ``partial`` (``{"index", "seconds", "count"}``) with its segments so far as
``segment:<n>``, saved with each segment published (``Journal``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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
    """A file transcribed up to ``seconds`` (where the model's window began): its segments
    before that, in order, and those of that window already ``published`` (which the next
    worker, decoding the window again, does not publish again). ``tokens``: the model's own
    tokens that the window was decoded after (None: not known, as from an older worker)."""

    index: int
    seconds: float
    segments: tuple[TimedSegment, ...]
    published: tuple[TimedSegment, ...] = ()
    tokens: tuple[int, ...] | None = None

    @property
    def prompt(self) -> str | tuple[int, ...] | None:
        """What decoding the rest is conditioned on: the tokens the window was decoded after,
        so that it decodes as it did (the text before, tokenised anew, can cut otherwise and
        change the window's words), else that text."""
        if self.tokens is not None:
            return self.tokens or None
        return " ".join(s.text for s in self.segments if s.text) or None

    def fields(self) -> dict[str, Any]:
        """The checkpoint's ``partial`` field: its segments are fields of their own."""
        return {
            "index": self.index,
            "seconds": self.seconds,
            "count": len(self.segments),
            "published": [s.as_dict() for s in self.published],
            "tokens": None if self.tokens is None else list(self.tokens),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.fields(), "segments": [s.as_dict() for s in self.segments]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Partial | None:
        """None for one saved by a worker that kept only texts: that file starts over, so its
        segments (and their times) come out complete."""
        if "segments" not in data:
            return None
        segments = tuple(TimedSegment.from_dict(s) for s in data["segments"])
        published = tuple(TimedSegment.from_dict(s) for s in data.get("published", ()))
        tokens = data.get("tokens")
        return cls(
            int(data["index"]),
            float(data["seconds"]),
            segments,
            published,
            None if tokens is None else tuple(int(token) for token in tokens),
        )


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

    def to_fields(self) -> dict[str, Any]:
        """The checkpoint's fields (see the module's docstring)."""
        fields: dict[str, Any] = {"paths": [str(path) for path in self.paths], "percent": self.percent}
        fields.update((f"done:{index}", t.to_dict()) for index, t in self.done.items())
        if self.partial is not None:
            fields["partial"] = self.partial.fields()
            fields.update((f"segment:{n}", segment.as_dict()) for n, segment in enumerate(self.partial.segments))
        return fields

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Checkpoint | None:
        """The checkpoint saved as ``fields``; None when they hold no batch yet (its worker died
        before listing the files)."""
        if "done" in fields and isinstance(fields["done"], dict):
            return cls.from_dict(dict(fields))  # saved whole, by a worker of an earlier version
        if "paths" not in fields:
            return None
        paths = tuple(Path(p) for p in fields["paths"])
        done = {
            int(name[5:]): Transcript.from_dict(paths[int(name[5:])], value)
            for name, value in fields.items()
            if name.startswith("done:")
        }
        partial = None
        begun = fields.get("partial")
        if isinstance(begun, dict) and int(begun["index"]) not in done:
            segments = [fields[f"segment:{n}"] for n in range(int(begun["count"]))]
            partial = Partial.from_dict({**begun, "segments": segments})
        return cls(paths=paths, done=done, partial=partial, percent=int(fields.get("percent", 0)))

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


class Journal(Protocol):
    """Where a batch keeps its checkpoint current: ``segment`` publishes a live segment and saves
    ``checkpoint`` (fields) in the same step; ``save`` saves fields; ``working_on`` says which
    file the batch is on (named if its worker dies)."""

    def segment(self, path: Path, segment: Any, checkpoint: Mapping[str, Any]) -> None: ...

    def save(self, checkpoint: Mapping[str, Any]) -> None: ...

    def working_on(self, item: str) -> None: ...


class _NoJournal:
    """Keeps nothing (a batch run without Celery, in tests)."""

    def segment(self, path: Path, segment: Any, checkpoint: Mapping[str, Any]) -> None:
        pass

    def save(self, checkpoint: Mapping[str, Any]) -> None:
        pass

    def working_on(self, item: str) -> None:
        pass


NO_JOURNAL: Journal = _NoJournal()


class Handover(Exception):
    """The worker is stopping: the batch goes on elsewhere from ``checkpoint``."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        super().__init__(f"handing over at {checkpoint.percent}%")
        self.checkpoint = checkpoint


class StopRequested(Exception):
    """Raised between two segments of a file when the worker is stopping: ``partial`` is where
    to resume."""

    def __init__(self, partial: Partial) -> None:
        super().__init__(f"stopping at {partial.seconds:.2f} s")
        self.partial = partial

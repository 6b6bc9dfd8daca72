"""Transcribing a folder of audio: plain functions, testable without Celery."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from live_progress import progress_meta
from live_progress.plugins.audio.shared import is_audio_file
from live_progress.plugins.audio.worker.checkpoint import (
    Checkpoint,
    Handover,
    Partial,
    StopRequested,
    TimedSegment,
    Transcript,
    Word,
)
from live_progress.plugins.audio.worker.decoding import DECODED
from live_progress.plugins.audio.worker.formats import output_names, write_format
from live_progress.plugins.audio.worker.options import DEFAULT_OPTIONS, TranscribeOptions
from live_progress.plugins.audio.worker.progress import BatchProgress, Meta

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

logger = logging.getLogger(__name__)

TRANSCRIPTS_FOLDER = "transcripts"


class Segment(Protocol):
    start: float
    end: float
    text: str


# Called with each segment as the model yields it (live results: live_progress/plugins/audio/worker/segments.py).
OnSegment = Callable[[Path, Segment], None]


class SegmentSource(Protocol):
    """A file's segments, from ``start`` seconds into it (``prompt``: the text before that) to
    ``end`` (None: its end)."""

    def __call__(
        self, path: Path, start: float = 0.0, prompt: str | None = None, end: float | None = None
    ) -> Iterable[Segment]: ...


def never() -> bool:
    """The default ``stopping``: the worker is not being stopped."""
    return False


def ignore_segment(path: Path, segment: Segment) -> None:
    """The default ``on_segment``: nobody publishes live results."""


def find_audio_files(folder: Path) -> list[Path]:
    """Audio files under ``folder``, recursively, in a stable order."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found.extend(Path(root, name) for name in sorted(files) if is_audio_file(name))
    return found


def probe_duration(path: Path) -> float:
    """The file's duration in seconds from its container, without decoding; 0 if unknown."""
    import av

    try:
        with av.open(str(path)) as container:
            if container.duration is not None:
                return max(container.duration / 1_000_000, 0.0)
    except (av.error.FFmpegError, OSError) as exc:
        # Undecodable files are reported when transcribed; here they weigh nothing.
        logger.info("Cannot read the duration of %s: %s", path, exc)
    return 0.0


def transcribe_files(
    paths: list[Path],
    segments_of: SegmentSource,
    on_progress: Callable[[Meta], None],
    resume: Checkpoint | None = None,
    stopping: Callable[[], bool] = never,
    on_segment: OnSegment = ignore_segment,
) -> list[Transcript]:
    """Transcribe each file, reporting progress per segment; a bad file does not stop the rest.

    From ``resume``, files already done are skipped and a file begun is carried on where it
    stopped. When ``stopping()`` turns true, raises ``Handover`` at the next segment's end.
    """
    progress = BatchProgress([p.name for p in paths], [probe_duration(p) for p in paths])
    done: dict[int, Transcript] = {}
    partial = None
    if resume is not None:
        progress.reached(resume.percent)
        done, partial = dict(resume.done), resume.partial
    for index, path in enumerate(paths):
        if index in done:
            continue
        begun = partial if partial is not None and partial.index == index else Partial(index, 0.0, ())
        on_progress(progress.at(index, begun.seconds))
        try:
            report = functools.partial(_report_at, on_progress, progress, index)
            done[index] = transcribe_file(path, segments_of, report, begun, stopping, on_segment)
        except StopRequested as stop:
            stopped_at = Partial(index, stop.seconds, tuple(stop.segments))
            raise Handover(Checkpoint(tuple(paths), done, stopped_at, progress.best)) from None
    return [done[index] for index in range(len(paths))]


def _report_at(on_progress: Callable[[Meta], None], progress: BatchProgress, index: int, seconds: float) -> None:
    on_progress(progress.at(index, seconds))


def transcribe_file(
    path: Path,
    segments_of: SegmentSource,
    on_seconds: Callable[[float], None],
    begun: Partial | None = None,
    stopping: Callable[[], bool] = never,
    on_segment: OnSegment = ignore_segment,
    start: float = 0.0,
    end: float | None = None,
) -> Transcript:
    """One file's transcript (or that of its piece from ``start`` to ``end`` seconds), reporting
    how many seconds into the file each segment ends.

    ``begun``: the file was transcribed up to there already (by a worker that stopped).
    When ``stopping()`` turns true after a segment, raises ``StopRequested`` with what is done.
    """
    kept = list(begun.segments) if begun else []
    reached = begun.seconds if begun else start
    prompt = begun.prompt if begun else None
    try:
        if end is not None:
            segments = segments_of(path, reached, prompt, end)
        else:
            segments = segments_of(path, reached, prompt) if reached else segments_of(path)
        for segment in segments:
            timed = _timed(segment)
            if timed.text:  # a blank segment would be an empty subtitle
                kept.append(timed)
            reached = segment.end
            on_segment(path, segment)
            on_seconds(segment.end)
            if stopping():
                raise StopRequested(reached, kept)
    except StopRequested:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure belongs to this file
        logger.warning("Could not transcribe %s: %s", path, exc)
        # FFmpeg's errors carry a readable strerror; their str() adds an errno and the path.
        reason = getattr(exc, "strerror", None) or str(exc)
        return Transcript(path, error=f"Could not transcribe {path.name}: {reason}")
    return Transcript(path, text=" ".join(s.text for s in kept if s.text), segments=tuple(kept))


def _timed(segment: Segment) -> TimedSegment:
    words = getattr(segment, "words", None)  # faster-whisper's, with word_timestamps
    return TimedSegment(
        segment.start,
        segment.end,
        segment.text.strip(),
        None if words is None else tuple(Word(w.start, w.end, w.word, w.probability) for w in words),
    )


def whisper_segments(model: WhisperModel, options: TranscribeOptions = DEFAULT_OPTIONS) -> SegmentSource:
    if options.batched:
        return _batched_segments(model, options)
    decoding = options.decoding()
    audio_of = functools.partial(DECODED.stretch, rate=model.feature_extractor.sampling_rate)

    def segments_of(
        path: Path, start: float = 0.0, prompt: str | None = None, end: float | None = None
    ) -> Iterator[Segment]:
        if end is not None:
            # A piece of a split file: its stretch of the file, decoded once for all the pieces
            # this worker gets (faster-whisper's clip_timestamps would decode the whole file and
            # compute its features for each piece: seconds per piece of a long file), its times
            # put back on the file's clock.
            segments, _info = model.transcribe(audio_of(path, start, end), initial_prompt=prompt, **decoding)
            return (_shifted(segment, start) for segment in segments)
        # From ``start``: faster-whisper's clip_timestamps, with the text before it as the
        # prompt, as it would have been had the file been transcribed in one go. (faster-whisper
        # ignores vad_filter with clip_timestamps: a resumed file's rest is decoded whole.)
        clip: str | list[float] = [start] if start else "0"
        segments, _info = model.transcribe(str(path), clip_timestamps=clip, initial_prompt=prompt, **decoding)
        return segments

    return segments_of


def _batched_segments(model: WhisperModel, options: TranscribeOptions) -> SegmentSource:
    from faster_whisper import BatchedInferencePipeline

    pipeline = BatchedInferencePipeline(model)
    decoding = options.decoding()
    audio_of = functools.partial(DECODED.stretch, rate=model.feature_extractor.sampling_rate)

    def segments_of(
        path: Path, start: float = 0.0, prompt: str | None = None, end: float | None = None
    ) -> Iterator[Segment]:
        if not start and end is None:
            segments, _info = pipeline.transcribe(str(path), **decoding)
            return segments
        # The pipeline's clip_timestamps are its windows, not a start: decode the rest of the
        # file (up to ``end``) and put its times back on the file's clock.
        segments, _info = pipeline.transcribe(audio_of(path, start, end), initial_prompt=prompt, **decoding)
        return (_shifted(segment, start) for segment in segments)

    return segments_of


def _shifted(segment: Any, seconds: float) -> Any:
    """faster-whisper's Segment (a dataclass), ``seconds`` later, its words too."""
    words = (
        None
        if segment.words is None
        else [replace(w, start=w.start + seconds, end=w.end + seconds) for w in segment.words]
    )
    return replace(segment, start=segment.start + seconds, end=segment.end + seconds, words=words)


def write_transcripts(
    folder: Path, transcripts: list[Transcript], fallback: Path, formats: Sequence[str] = ("txt",)
) -> Path:
    """Write ``<stem>.<format>`` per transcribed file and format into ``folder/transcripts``,
    mirroring subfolders (see live_progress/plugins/audio/worker/formats.py).

    When ``folder`` cannot be written to, the transcripts go to ``fallback`` instead.
    Returns the folder the transcripts are in.
    """
    try:
        return _write_into(folder / TRANSCRIPTS_FOLDER, folder, transcripts, formats)
    except OSError as exc:
        logger.info("Cannot write transcripts beside %s (%s); using %s", folder, exc, fallback)
        return _write_into(fallback, folder, transcripts, formats)


def _write_into(target: Path, folder: Path, transcripts: list[Transcript], formats: Sequence[str]) -> Path:
    for transcript, names in zip(transcripts, output_names(folder, transcripts, formats), strict=True):
        for fmt, name in zip(formats, names, strict=False):  # a failed file has no names
            out = target / name
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w", encoding="utf-8") as file:
                write_format(transcript, fmt, file)
    target.mkdir(parents=True, exist_ok=True)
    return target


def prepare_batch(folder: Path, on_progress: Callable[[Meta], None]) -> list[Path]:
    """The batch's audio files, once the folder is known to be there; reports that it starts."""
    if not folder.is_dir():
        raise FileNotFoundError(f"input_dir {str(folder)!r} is not a folder (any more)")
    paths = find_audio_files(folder)
    on_progress(progress_meta(0, f"Preparing {len(paths)} files", current=0, total=len(paths)))
    return paths


def transcribe_folder(
    folder: Path,
    load_model: Callable[[], WhisperModel],
    on_progress: Callable[[Meta], None],
    transcripts_fallback: Path,
    resume: Checkpoint | None = None,
    stopping: Callable[[], bool] = never,
    on_segment: OnSegment = ignore_segment,
    options: TranscribeOptions = DEFAULT_OPTIONS,
) -> dict[str, Any]:
    """Transcribe every audio file under ``folder``; the result is a RescueBox BatchTextResponse.

    ``resume``: where a worker that stopped left the batch (its files, not the folder's now).
    """
    paths = list(resume.paths) if resume is not None else prepare_batch(folder, on_progress)
    model = load_model()
    transcripts = transcribe_files(paths, whisper_segments(model, options), on_progress, resume, stopping, on_segment)
    return batch_response(folder, transcripts, transcripts_fallback, options.formats)


def batch_response(
    folder: Path, transcripts: list[Transcript], transcripts_fallback: Path, formats: Sequence[str] = ("txt",)
) -> dict[str, Any]:
    """Write the transcripts beside ``folder`` and answer a RescueBox BatchTextResponse; each
    text lists the files written for it (``files``, names relative to ``transcripts_dir``)."""
    transcripts_dir = write_transcripts(folder, transcripts, transcripts_fallback, formats)
    names = output_names(folder, transcripts, formats)
    return {
        "output_type": "batchtext",
        "texts": [
            replace(
                t, files=tuple({"format": f, "name": n} for f, n in zip(formats, written, strict=False))
            ).as_text_response()
            for t, written in zip(transcripts, names, strict=True)
        ],
        "transcripts_dir": str(transcripts_dir),
    }

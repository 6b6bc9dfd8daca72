"""Transcribing a folder of audio: plain functions, testable without Celery."""

from __future__ import annotations

import enum
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
    NO_JOURNAL,
    Checkpoint,
    Handover,
    Journal,
    Partial,
    StopRequested,
    TimedSegment,
    Transcript,
    Word,
)
from live_progress.plugins.audio.worker.decoding import decode_stretch
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


# Called with each segment as the model yields it, and where to resume should the work stop
# right after it (live results: live_progress/plugins/audio/worker/segments.py).
OnSegment = Callable[[Path, Segment, Partial], None]


Prompt = str | Sequence[int] | None


class SegmentSource(Protocol):
    """A file's segments, from ``start`` seconds into it (``prompt``: the text, or the model's
    tokens, before that) to ``end`` (None: its end). ``stretch``: a piece's start: the audio is
    that of the piece alone, from ``stretch`` to ``end``, whatever ``start`` (None: the file's)."""

    def __call__(
        self,
        path: Path,
        start: float = 0.0,
        prompt: Prompt = None,
        end: float | None = None,
        stretch: float | None = None,
    ) -> Iterable[Segment]: ...


def never() -> bool:
    """The default ``stopping``: the worker is not being stopped."""
    return False


def ignore_segment(path: Path, segment: Segment, at: Partial) -> None:
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
    journal: Journal = NO_JOURNAL,
) -> list[Transcript]:
    """Transcribe each file, reporting progress per segment; a bad file does not stop the rest.

    From ``resume``, files already done are skipped and a file begun is carried on where it
    stopped. Each segment is published through ``journal`` with the checkpoint that holds it,
    and each file done is saved there, so a worker that dies leaves the batch where it stood.
    When ``stopping()`` turns true, raises ``Handover`` at the next segment's end.
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
        begun = partial if partial is not None and partial.index == index else Partial(index, 0.0, (), tokens=())
        journal.working_on(path.name)
        on_progress(progress.at(index, begun.seconds))
        saved = len(begun.segments)  # the checkpoint's segment:<n> fields of this file

        def publish(path: Path, segment: Segment, at: Partial, index: int = index) -> None:
            nonlocal saved
            fields: dict[str, Any] = {f"segment:{n}": at.segments[n].as_dict() for n in range(saved, len(at.segments))}
            saved = len(at.segments)
            fields["partial"] = at.fields()
            fields["percent"] = progress.at(index, segment.end)["percent"]
            journal.segment(path, segment, fields)

        try:
            report = functools.partial(_report_at, on_progress, progress, index)
            done[index] = transcribe_file(path, segments_of, report, begun, stopping, publish, index=index)
        except StopRequested as stop:
            raise Handover(Checkpoint(tuple(paths), done, stop.partial, progress.best)) from None
        finished: dict[str, Any] = {f"done:{index}": done[index].to_dict(), "partial": None}
        finished.update((f"segment:{n}", None) for n in range(saved))
        journal.save({**finished, "percent": progress.best})
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
    index: int = 0,
) -> Transcript:
    """One file's transcript (or that of its piece from ``start`` to ``end`` seconds), reporting
    how many seconds into the file each segment ends.

    ``on_segment`` gets each segment with where to resume should the work stop right after it
    (file ``index``'s ``Partial``): the start of the model's window the segment came from (the
    model decodes 30-second windows, and a window decoded from its start after the same tokens
    comes out as it did), with the segments before that window and those of it already
    published. ``begun``: the file was transcribed up to there already (by a worker that
    stopped or died); the segments of its window that were published then are not published
    again. When ``stopping()`` turns true after a segment, raises ``StopRequested`` with that
    ``Partial``.
    """
    window = _Window(begun if begun is not None else Partial(index, start, (), tokens=()))
    try:
        while True:
            for segment in _decode(segments_of, path, window, start, end):
                verdict = window.add(segment)
                if verdict is _Verdict.DIVERGED:
                    break
                if verdict is _Verdict.NEW:
                    on_segment(path, segment, window.resume_point())
                on_seconds(segment.end)
                if stopping():
                    raise StopRequested(window.resume_point())
            else:
                break
            # Decoded otherwise than before: what clients have read stands, the rest is
            # decoded from its end, so that no word is lost in between.
            logger.info("%s decoded otherwise on resume; carrying on from %.2f s", path.name, window.start)
    except StopRequested:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure belongs to this file
        logger.warning("Could not transcribe %s: %s", path, exc)
        # FFmpeg's errors carry a readable strerror; their str() adds an errno and the path.
        reason = getattr(exc, "strerror", None) or str(exc)
        return Transcript(path, error=f"Could not transcribe {path.name}: {reason}")
    kept = window.kept()
    return Transcript(path, text=" ".join(s.text for s in kept), segments=tuple(kept))


def _decode(
    segments_of: SegmentSource, path: Path, window: _Window, start: float, end: float | None
) -> Iterable[Segment]:
    """The segments from the window's start: of the whole file, or of the piece ``start``-``end``
    (whose stretch of audio is decoded from ``start`` whatever the window's, as it was the
    first time)."""
    at, prompt = window.start, window.prompt()
    if end is not None or start > 0:
        # A piece (the last runs to the file's end): its own stretch, however far it got.
        return segments_of(path, at, prompt, end, stretch=start)
    return segments_of(path, at, prompt) if at else segments_of(path)


# Seconds per frame of the model's features (faster-whisper's Segment.seek counts them).
_FRAME_SECONDS = 0.01
# How many of the tokens before a window the model is prompted with (faster-whisper's
# get_prompt: half its 448-token context, less one).
_PROMPT_TOKENS = 223
# A window decoded at a temperature above this is not in the next windows' prompt
# (faster-whisper's default prompt_reset_on_temperature).
_PROMPT_RESET_TEMPERATURE = 0.5


class _Verdict(enum.Enum):
    NEW = "publish it"
    AGAIN = "published already"
    DIVERGED = "the window decodes otherwise than before"


class _Window:
    """Where a file's transcription stands: the segments of the windows done, and the start and
    segments of the window the model is in, and the model's tokens before that window."""

    def __init__(self, begun: Partial) -> None:
        self._index = begun.index
        self.start = begun.seconds
        self._before = list(begun.segments)
        self._current: list[TimedSegment] = []
        # Published of this window by an earlier worker: decoded again, they are not published again.
        self._again = list(begun.published)
        self._tokens = None if begun.tokens is None else list(begun.tokens)
        self._window_tokens: list[int] | None = []
        self._reset = False

    def prompt(self) -> str | tuple[int, ...] | None:
        return Partial(self._index, self.start, tuple(self._before), (), self._tokens_tuple()).prompt

    def add(self, segment: Segment) -> _Verdict:
        """Take the model's next segment: whether to publish it."""
        timed = timed_segment(segment)
        seek = getattr(segment, "seek", None)
        if self._again:
            if abs(timed.end - self._again[0].end) < 0.015 and timed.text == self._again[0].text:
                self._current.append(self._again.pop(0))
                self._note_tokens(segment)
                return _Verdict.AGAIN
            self._diverge()
            return _Verdict.DIVERGED
        window = None if seek is None else seek * _FRAME_SECONDS
        if window is None or abs(window - self.start) > _FRAME_SECONDS / 2:
            self._close()
            self.start = window if window is not None else self.start
        self._current.append(timed)
        self._note_tokens(segment)
        if window is None:  # no windows known: each segment ends one
            self._close()
            self.start = timed.end
        return _Verdict.NEW

    def _note_tokens(self, segment: Segment) -> None:
        tokens = getattr(segment, "tokens", None)
        if tokens is None or self._window_tokens is None:
            self._window_tokens = None
            return
        self._window_tokens += tokens
        self._reset = self._reset or getattr(segment, "temperature", 0.0) > _PROMPT_RESET_TEMPERATURE

    def _diverge(self) -> None:
        """Keep what was published of the window, and go on from its end, prompted by the text."""
        self._current += self._again
        self._again = []
        self.start = self._current[-1].end
        self._before += [s for s in self._current if s.text]
        self._current = []
        self._tokens, self._window_tokens = None, []

    def _close(self) -> None:
        self._before += [s for s in self._current if s.text]  # a blank segment would be an empty subtitle
        self._current = []
        if self._tokens is not None:
            if self._window_tokens is None:
                self._tokens = None
            elif self._reset:
                self._tokens = []
            else:
                self._tokens = (self._tokens + self._window_tokens)[-_PROMPT_TOKENS:]
        self._window_tokens, self._reset = [], False

    def _tokens_tuple(self) -> tuple[int, ...] | None:
        return None if self._tokens is None else tuple(self._tokens)

    def resume_point(self) -> Partial:
        # Published of the window: what this worker decoded of it, and what an earlier one
        # published that this one has not decoded again yet.
        published = tuple(self._current + self._again)
        return Partial(self._index, self.start, tuple(self._before), published, self._tokens_tuple())

    def kept(self) -> list[TimedSegment]:
        return self._before + [s for s in self._current + self._again if s.text]


def timed_segment(segment: Segment) -> TimedSegment:
    """What a transcript keeps of a model's segment."""
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
    audio_of = functools.partial(decode_stretch, rate=model.feature_extractor.sampling_rate)

    def segments_of(
        path: Path,
        start: float = 0.0,
        prompt: Prompt = None,
        end: float | None = None,
        stretch: float | None = None,
    ) -> Iterator[Segment]:
        segments = _decode_windows(path, start, prompt, end, stretch)
        # With VAD the model decodes the speech alone, and its windows (seek) are on that
        # clock, not the file's: no window is known, a resume begins after the last segment.
        return (replace(segment, seek=None) for segment in segments) if options.vad else segments

    def _decode_windows(
        path: Path, start: float, prompt: Prompt, end: float | None, stretch: float | None
    ) -> Iterator[Segment]:
        if stretch is not None:
            # A piece of a split file: its stretch of the file alone, decoded from the piece's
            # start (faster-whisper's clip_timestamps would decode the whole file and compute
            # its features), its times put back on the file's clock. A piece resumed is the
            # same stretch, clipped: the features of a window depend on the whole stretch (its
            # loudest part).
            clip: str | list[float] = [start - stretch] if start > stretch else "0"
            segments, _info = model.transcribe(
                audio_of(path, stretch, end), clip_timestamps=clip, initial_prompt=prompt, **decoding
            )
            return _within((_shifted(segment, stretch) for segment in segments), end)
        # From ``start``: faster-whisper's clip_timestamps, with the text before it as the
        # prompt, as it would have been had the file been transcribed in one go. (faster-whisper
        # ignores vad_filter with clip_timestamps: a resumed file's rest is decoded whole.)
        whole: str | list[float] = [start] if start else "0"
        segments, _info = model.transcribe(str(path), clip_timestamps=whole, initial_prompt=prompt, **decoding)
        return segments

    return segments_of


def _batched_segments(model: WhisperModel, options: TranscribeOptions) -> SegmentSource:
    from faster_whisper import BatchedInferencePipeline

    pipeline = BatchedInferencePipeline(model)
    decoding = options.decoding()
    audio_of = functools.partial(decode_stretch, rate=model.feature_extractor.sampling_rate)

    def segments_of(
        path: Path,
        start: float = 0.0,
        prompt: Prompt = None,
        end: float | None = None,
        stretch: float | None = None,
    ) -> Iterator[Segment]:
        if not start and end is None:
            segments, _info = pipeline.transcribe(str(path), **decoding)
            return segments
        # The pipeline's clip_timestamps are its windows, not a start: decode the rest of the
        # file (up to ``end``) and put its times back on the file's clock.
        segments, _info = pipeline.transcribe(audio_of(path, start, end), initial_prompt=prompt, **decoding)
        return _within((_shifted(segment, start) for segment in segments), end)

    return segments_of


def _within(segments: Iterable[Any], end: float | None) -> Iterator[Any]:
    """A piece's segments, none past its ``end``: at the end of its audio the model may give a
    last timestamp beyond it (or go on with segments there), which would overlap the next
    piece's first segments."""
    for segment in segments:
        if end is None or segment.end <= end:
            yield segment
        elif segment.start < end:
            words = None if segment.words is None else [w for w in segment.words if w.start < end]
            clipped = None if words is None else [replace(w, end=min(w.end, end)) for w in words]
            yield replace(segment, end=end, words=clipped)


def _shifted(segment: Any, seconds: float) -> Any:
    """faster-whisper's Segment (a dataclass), ``seconds`` later, its words too."""
    words = (
        None
        if segment.words is None
        else [replace(w, start=w.start + seconds, end=w.end + seconds) for w in segment.words]
    )
    seek = segment.seek + round(seconds / _FRAME_SECONDS)
    return replace(segment, seek=seek, start=segment.start + seconds, end=segment.end + seconds, words=words)


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
    journal: Journal = NO_JOURNAL,
    options: TranscribeOptions = DEFAULT_OPTIONS,
) -> dict[str, Any]:
    """Transcribe every audio file under ``folder``; the result is a RescueBox BatchTextResponse.

    ``resume``: where an earlier worker left the batch (its files, not the folder's now).
    """
    if resume is not None:
        paths = list(resume.paths)
    else:
        paths = prepare_batch(folder, on_progress)
        journal.save({"paths": [str(path) for path in paths], "percent": 0})
    model = load_model()
    transcripts = transcribe_files(paths, whisper_segments(model, options), on_progress, resume, stopping, journal)
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

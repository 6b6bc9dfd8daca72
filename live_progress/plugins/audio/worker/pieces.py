"""A split batch's units: whole files, and long files cut at silences into time ranges.

With ``SPLIT_BATCHES`` above 1, a file longer than ``LONG_FILE_SECONDS`` becomes pieces of
about ``PIECE_SECONDS`` each, cut in the middle of a pause that faster-whisper's own VAD
(Silero) finds, so no word is cut in two. Each piece is one claimable unit of the shared
batch (live_progress/plugins/audio/worker/shared_batch.py). A worker decodes the file's audio once for the pieces it
gets and transcribes each piece's stretch of samples (faster-whisper's ``clip_timestamps``
would compute the whole file's features again for every piece); its segments are put back on
the file's clock, and the pieces' transcripts are merged, in order, into the file's one
transcript.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from live_progress.plugins.audio.worker.checkpoint import Transcript
from live_progress.plugins.audio.worker.decoding import DECODED

logger = logging.getLogger(__name__)

# A file longer than this is split when the batch is (shorter ones gain little for the pass
# over the whole file that finding its pauses takes).
LONG_FILE_SECONDS = 180.0
# A piece is cut at the first pause after this long; none is shorter than MIN_PIECE_SECONDS
# (each piece is decoded without the text before it as prompt: few, long pieces cost less).
PIECE_SECONDS = 60.0
MIN_PIECE_SECONDS = 30.0
# What counts as a pause to cut in: at least this much silence, speech padded by this much.
_MIN_SILENCE_MS = 500
_SPEECH_PAD_MS = 100
_RATE = 16_000


@dataclass(frozen=True, slots=True)
class Unit:
    """What one participant claims: file ``file`` (its index among the batch's files), from
    ``start`` to ``end`` seconds (None: to its end). ``piece`` of ``pieces`` (1 for a whole file)."""

    file: int
    path: Path
    duration: float  # seconds, what it weighs in the batch's percent (0 if unknown)
    start: float = 0.0
    end: float | None = None
    piece: int = 0
    pieces: int = 1

    @property
    def whole(self) -> bool:
        return self.pieces == 1

    def to_json(self) -> str:
        return json.dumps(
            {
                "file": self.file,
                "path": str(self.path),
                "duration": self.duration,
                "start": self.start,
                "end": self.end,
                "piece": self.piece,
                "pieces": self.pieces,
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Unit:
        data: dict[str, Any] = json.loads(raw)
        return cls(
            int(data["file"]),
            Path(data["path"]),
            float(data["duration"]),
            float(data["start"]),
            None if data["end"] is None else float(data["end"]),
            int(data["piece"]),
            int(data["pieces"]),
        )

    def describe(self) -> str:
        if self.whole:
            return self.path.name
        end = "end" if self.end is None else f"{self.end:.1f} s"
        return f"{self.path.name} {self.start:.1f} s to {end}, piece {self.piece + 1} of {self.pieces}"


def plan_ranges(
    speech: Sequence[tuple[float, float]],
    duration: float,
    piece: float = PIECE_SECONDS,
    minimum: float = MIN_PIECE_SECONDS,
) -> list[tuple[float, float]]:
    """Time ranges covering ``[0, duration]`` one after the other, cut only in the middle of a
    pause between two stretches of ``speech`` (in order, seconds): each cut is at the first
    pause at least ``piece`` seconds after the previous cut, and a last piece shorter than
    ``minimum`` joins the one before. Without a pause, a stretch is not cut however long."""
    if minimum > piece:
        raise ValueError(f"minimum has value {minimum!r}; it must not exceed piece ({piece!r})")
    cuts: list[float] = []
    start = 0.0
    for (_, before), (after, _) in zip(speech, speech[1:], strict=False):
        middle = (before + after) / 2
        if after > before and middle - start >= piece and duration - middle > 0:
            cuts.append(middle)
            start = middle
    if cuts and duration - cuts[-1] < minimum:
        cuts.pop()
    bounds = [0.0, *cuts, duration]
    return list(zip(bounds, bounds[1:], strict=False))


def speech_stretches(path: Path) -> tuple[list[tuple[float, float]], float]:
    """The file's stretches of speech (seconds) by faster-whisper's VAD, and its decoded duration."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    # Kept: the worker that finds the pauses usually transcribes the first piece next.
    audio = DECODED.samples(path, _RATE)
    options = VadOptions(min_silence_duration_ms=_MIN_SILENCE_MS, speech_pad_ms=_SPEECH_PAD_MS)
    found = get_speech_timestamps(audio, options, sampling_rate=_RATE)
    return [(s["start"] / _RATE, s["end"] / _RATE) for s in found], len(audio) / _RATE


def plan_units(paths: Sequence[Path], durations: Sequence[float], split: bool) -> list[Unit]:
    """The batch's units, in order: each file whole, or (``split``) a long one as its pieces."""
    units: list[Unit] = []
    for index, (path, duration) in enumerate(zip(paths, durations, strict=True)):
        ranges = _ranges_of(path) if split and duration > LONG_FILE_SECONDS else []
        if len(ranges) < 2:
            units.append(Unit(index, path, duration))
            continue
        logger.info("Splitting %s (%.0f s) into %d pieces at pauses", path.name, ranges[-1][1], len(ranges))
        # The last piece ends where the decoded audio does: the same decoder cuts the pieces.
        for number, (start, end) in enumerate(ranges):
            units.append(Unit(index, path, end - start, start, end, number, len(ranges)))
    return units


def _ranges_of(path: Path) -> list[tuple[float, float]]:
    try:
        speech, duration = speech_stretches(path)
    except Exception as exc:  # noqa: BLE001 - a file that cannot be decoded is reported whole
        logger.info("Not splitting %s: %s", path, exc)
        return []
    return plan_ranges(speech, duration)


def merge(path: Path, pieces: Sequence[Transcript]) -> Transcript:
    """A file's transcript from its pieces' (in order): their segments one after the other;
    an error if any piece failed (a transcript with a hole would pass for whole)."""
    for piece in pieces:
        if piece.error is not None:
            return Transcript(path, error=piece.error)
    segments = tuple(segment for piece in pieces for segment in piece.segments)
    return Transcript(path, text=" ".join(s.text for s in segments if s.text), segments=segments)

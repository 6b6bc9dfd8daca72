"""A split batch's units: whole files, and long files cut at pauses into time ranges.

With ``SPLIT_BATCHES`` above 1, a file longer than ``LONG_FILE_SECONDS`` becomes pieces, each
cut in the middle of a pause that faster-whisper's own VAD (Silero) finds, so no word is cut
in two. The pieces get shorter toward the end of the file (a share of what is left, between
``MIN_PIECE_SECONDS`` and ``MAX_PIECE_SECONDS``): the workers start on long pieces, which cost
the fewest cuts, and finish on short ones, so none waits long for another's last piece. Only
the audio around each place a piece could end is decoded to look for a pause there, not the
whole file. Each piece is one claimable unit of the shared batch
(live_progress/plugins/audio/worker/shared_batch.py); a worker decodes the stretch of a piece it
gets and no more, its segments are put back on the file's clock, and the pieces' transcripts
are merged, in order, into the file's one transcript.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from live_progress.plugins.audio.worker.checkpoint import Transcript
from live_progress.plugins.audio.worker.decoding import RATE, decode_stretch

logger = logging.getLogger(__name__)

# A file longer than this is split when the batch is.
LONG_FILE_SECONDS = 180.0
# A piece is a share of what is left of the file (1 / (2 × the batch's workers)), kept between
# these: each piece is decoded without the text before it as prompt, so few cuts cost the
# fewest words; the last ones short, so that no worker waits long for another's last piece,
# but not under one of the model's 30-second windows (a piece padded with silence can send
# tiny.en into repeating itself at rising temperatures: seconds lost on one piece); and at
# most as long as a 10-minute file's first piece on two workers, so that a worker holds no
# more for a file of hours than for that: a piece's samples (9.6 MB) and, while
# faster-whisper computes a piece's features in one go, about 1 MB a second of it (154 MB
# for 150 s, 308 MB for 300 s, measured with tracemalloc on faster-whisper 1.2).
MIN_PIECE_SECONDS = 30.0
MAX_PIECE_SECONDS = 150.0
# A pause to cut in is looked for this far either side of where a piece would end, then
# further on, a window at a time, until one is found.
SEARCH_SECONDS = 4.0
# What counts as a pause to cut in: at least this much silence, speech padded by this much.
_MIN_SILENCE_MS = 500
_SPEECH_PAD_MS = 100
_EDGE_PAUSE_SECONDS = 1.0

# The pauses (start, end seconds into the file) found between two times.
PausesIn = Callable[[float, float], Sequence[tuple[float, float]]]


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


def piece_seconds(left: float, workers: int) -> float:
    """How long the next piece should be, with ``left`` seconds of the file after its start."""
    return min(MAX_PIECE_SECONDS, max(MIN_PIECE_SECONDS, left / (2 * max(workers, 1))))


def plan_ranges(duration: float, pauses_in: PausesIn, workers: int) -> list[tuple[float, float | None]]:
    """Time ranges covering the file one after the other, the last open-ended (None: to the
    file's end, whatever its decoded length), cut only in the middle of a pause that
    ``pauses_in`` finds near where each piece should end (``piece_seconds``). No piece is
    shorter than ``MIN_PIECE_SECONDS``; without a pause, speech is not cut however long."""
    cuts: list[float] = []
    start = 0.0
    while (left := duration - start) >= 2 * MIN_PIECE_SECONDS:
        length = piece_seconds(left, workers)
        if length <= MIN_PIECE_SECONDS:
            # At the shortest: the rest in pieces alike, so that no worker waits long on another's last.
            length = left / (left // MIN_PIECE_SECONDS)
        cut = _cut_near(start + length, start, duration, pauses_in)
        if cut is None:
            break
        cuts.append(cut)
        start = cut
    bounds = [0.0, *cuts]
    return [*zip(bounds, cuts, strict=False), (bounds[-1], None)]


def _cut_near(target: float, start: float, duration: float, pauses_in: PausesIn) -> float | None:
    """The middle of the pause nearest ``target`` that leaves at least ``MIN_PIECE_SECONDS``
    either side (after ``start``, before ``duration``); looked for a window at a time from
    around ``target`` on; None if there is none."""
    low, high = start + MIN_PIECE_SECONDS, duration - MIN_PIECE_SECONDS
    window = max(low, target - SEARCH_SECONDS)
    while window < high:
        until = min(high, window + 2 * SEARCH_SECONDS)
        middles = [(a + b) / 2 for a, b in pauses_in(window, until)]
        inside = [middle for middle in middles if low <= middle <= high]
        if inside:
            return min(inside, key=lambda middle: abs(middle - target))
        window = until
    return None


def pauses_in(path: Path, start: float, end: float) -> list[tuple[float, float]]:
    """The pauses in ``path`` between ``start`` and ``end`` seconds, by faster-whisper's VAD:
    between two stretches of speech, and before the first and after the last (all of it if
    there is no speech)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    audio = decode_stretch(path, start, end)
    options = VadOptions(min_silence_duration_ms=_MIN_SILENCE_MS, speech_pad_ms=_SPEECH_PAD_MS)
    speech = get_speech_timestamps(audio, options, sampling_rate=RATE)
    edges = [0, *(x for s in speech for x in (s["start"], s["end"])), len(audio)]
    gaps = list(zip(edges[::2], edges[1::2], strict=True))
    # At the window's edges, the VAD may miss the end of a word cut off there: a gap there
    # counts when it is long enough that its middle is past any such.
    edge = round(_EDGE_PAUSE_SECONDS * RATE)
    pauses = [
        (a, b)
        for number, (a, b) in enumerate(gaps)
        if b - a >= (edge if speech and number in (0, len(gaps) - 1) else 1)
    ]
    return [(start + a / RATE, start + b / RATE) for a, b in pauses]


def load_vad() -> None:
    """Load the VAD's model now (it takes most of a second), not when the first long file waits."""
    from faster_whisper.vad import get_vad_model

    get_vad_model()


def plan_units(paths: Sequence[Path], durations: Sequence[float], workers: int) -> list[Unit]:
    """The batch's units, in order: each file whole, or (when ``workers`` share the batch) a
    long one as its pieces."""
    units: list[Unit] = []
    for index, (path, duration) in enumerate(zip(paths, durations, strict=True)):
        ranges = _ranges_of(path, duration, workers) if workers > 1 and duration > LONG_FILE_SECONDS else []
        if len(ranges) < 2:
            units.append(Unit(index, path, duration))
            continue
        logger.info("Splitting %s (%.0f s) into %d pieces at pauses", path.name, duration, len(ranges))
        for number, (start, end) in enumerate(ranges):
            units.append(Unit(index, path, (duration if end is None else end) - start, start, end, number, len(ranges)))
    return units


def _ranges_of(path: Path, duration: float, workers: int) -> list[tuple[float, float | None]]:
    try:
        return plan_ranges(duration, lambda start, end: pauses_in(path, start, end), workers)
    except Exception as exc:  # noqa: BLE001 - a file that cannot be decoded is reported whole
        logger.info("Not splitting %s: %s", path, exc)
        return []


def merge(path: Path, pieces: Sequence[Transcript]) -> Transcript:
    """A file's transcript from its pieces' (in order): their segments one after the other;
    an error if any piece failed (a transcript with a hole would pass for whole)."""
    for piece in pieces:
        if piece.error is not None:
            return Transcript(path, error=piece.error)
    segments = tuple(segment for piece in pieces for segment in piece.segments)
    return Transcript(path, text=" ".join(s.text for s in segments if s.text), segments=segments)

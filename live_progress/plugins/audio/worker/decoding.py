"""A stretch of a file's audio, decoded on its own: what a worker holds is what it transcribes.

Splitting a long file looks for a pause near each place it could be cut
(live_progress/plugins/audio/worker/pieces.py), and each of its pieces is transcribed from the
samples of that piece alone (live_progress/plugins/audio/worker/transcription.py). Decoding
seeks to the stretch and stops after it, so the samples a worker holds (16 kHz float32: 38 MB
for 10 minutes, 690 MB for 3 hours) are those of a piece, not the recording's, and no worker
decodes more of a file than the pieces it gets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

RATE = 16_000
# Decoding starts this long before a stretch and goes this far past its end, then cuts: a
# decoder that starts afresh (after a seek) gets its first ~200 ms wrong (an MP3's bit
# reservoir, a Vorbis window's overlap), and a frame of a compressed file holds up to a few
# hundred milliseconds.
_PRE_ROLL = 0.5
_PAST_END = 1.0


def decode_stretch(path: Path, start: float = 0.0, end: float | None = None, rate: int = RATE) -> Any:
    """The samples from ``start`` to ``end`` seconds of the file (None: to its end), mono
    float32 at ``rate`` Hz, as faster-whisper's ``decode_audio`` would give them for the whole
    file. Seconds count from the file's first sample."""
    import av
    import numpy as np

    chunks: list[Any] = []
    first: float | None = None  # seconds into the file of the first frame decoded
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams.audio[0]
        origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        if start > _PRE_ROLL:
            # To the last frame that begins at or before that (FFmpeg seeks backwards).
            container.seek(round((origin + start - _PRE_ROLL) * av.time_base))
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        for frame in _valid(container.decode(stream)):
            at = (frame.time if frame.time is not None else origin) - origin
            if first is None:
                first = at
            if end is not None and at > end + _PAST_END:
                break
            frame.pts = None  # the resampler checks timestamps follow on, which a seek breaks
            chunks += [out.to_ndarray() for out in resampler.resample(frame)]
        chunks += [out.to_ndarray() for out in resampler.resample(None)]
    samples = np.concatenate(chunks, axis=None) if chunks else np.zeros(0, dtype=np.int16)
    skip = max(0, round((start - (first or 0.0)) * rate))
    stop = None if end is None else skip + round((end - start) * rate)
    return samples[skip:stop].astype(np.float32) / 32768.0


def _valid(frames: Any) -> Any:
    """The frames a decoder gives, past the damaged ones (as faster-whisper's decode_audio does)."""
    import av

    iterator = iter(frames)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue

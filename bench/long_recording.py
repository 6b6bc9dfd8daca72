"""One long recording built from the committed clips (for bench.long_split and its test).

The clips' sentences (found at their pauses by faster-whisper's VAD) are laid end to end
with pauses between them, round after round, each round in another order and at another
speed, until the recording is long enough: the same sentence never comes back within a
round, nor at the seam of two, so Whisper, which is prompted with the text before, is not
handed what it is about to hear (it may then return nothing). Written as 16 kHz 16-bit WAV.
"""

from __future__ import annotations

import random
import wave
from pathlib import Path

import numpy as np

from bench.e2e import CLIPS, DATA

RATE = 16_000
SOURCES = [*sorted((DATA / "speech").glob("*.ogg")), *CLIPS]
# Each round's speed (resampled: faster and higher, or slower and lower).
SPEEDS = (1.0, 0.92, 1.08, 0.96, 1.04)
_SEAM = 12  # sentences at the end of a round that the next must not begin with


def sentences() -> list[np.ndarray]:
    """The clips' sentences, with a little of their silence each side."""
    from faster_whisper import decode_audio
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found: list[np.ndarray] = []
    options = VadOptions(min_silence_duration_ms=250, speech_pad_ms=80)
    for clip in SOURCES:
        audio = decode_audio(str(clip), sampling_rate=RATE)
        found += [audio[s["start"] : s["end"]] for s in get_speech_timestamps(audio, options, sampling_rate=RATE)]
    return found


def _at_speed(audio: np.ndarray, speed: float) -> np.ndarray:
    if speed == 1.0:
        return audio
    positions = np.arange(0, len(audio) - 1, speed)
    return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)


def build(out: Path, seconds: float, seed: int = 7, lead: float = 0.0) -> float:
    """Write a recording of at least ``seconds`` to ``out``; returns its duration. ``lead``:
    seconds of silence before it (the same speech, each 30-second window of the model elsewhere)."""
    rng = random.Random(seed)
    pieces = sentences()
    parts: list[np.ndarray] = [np.zeros(int(RATE * lead), dtype=np.float32)]
    total, round_number, previous = 0, 0, list(range(len(pieces)))
    while total < seconds * RATE:
        order = list(range(len(pieces)))
        rng.shuffle(order)
        while set(order[:_SEAM]) & set(previous[-_SEAM:]):
            rng.shuffle(order)
        speed = SPEEDS[round_number % len(SPEEDS)]
        for index in order:
            pause = np.zeros(int(RATE * rng.uniform(0.6, 1.4)), dtype=np.float32)
            parts += [_at_speed(pieces[index], speed), pause]
            total += len(parts[-2]) + len(pause)
            if total >= seconds * RATE:
                break
        previous, round_number = order, round_number + 1
    samples = np.clip(np.concatenate(parts), -1.0, 1.0)
    with wave.open(str(out), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(RATE)
        file.writeframes((samples * 32767).astype("<i2").tobytes())
    return len(samples) / RATE


if __name__ == "__main__":
    import sys

    print(f"{build(Path(sys.argv[1]), float(sys.argv[2])):.1f} s")

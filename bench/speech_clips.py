"""Regenerates the benchmark's spoken clips (tests/data/speech/*.ogg) from their texts.

python -m bench.speech_clips   (needs espeak-ng; PyAV, installed with faster-whisper, encodes)

Each clip is one ``<name>.txt`` read by espeak-ng with its own voice and speed, resampled to
16 kHz mono and stored as Opus at 16 kbit/s: about 2 KB per second of speech.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import av

SPEECH = Path(__file__).resolve().parents[1] / "tests" / "data" / "speech"
# name -> (espeak-ng voice, words per minute)
VOICES = {"harbour": ("en-us", 150), "garden": ("en-gb", 165), "museum": ("en-gb-x-rp", 140)}


def synthesise(text: str, voice: str, speed: int, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True)
        _encode(wav, out)


def _encode(wav: Path, out: Path) -> None:
    with av.open(str(wav)) as source, av.open(str(out), "w", format="ogg") as target:
        stream = target.add_stream("libopus", rate=16_000)
        stream.layout = "mono"
        stream.bit_rate = 16_000
        resampler = av.AudioResampler(format="s16", layout="mono", rate=16_000)
        for frame in source.decode(audio=0):
            for resampled in resampler.resample(frame):
                target.mux(stream.encode(resampled))
        for resampled in resampler.resample(None):
            target.mux(stream.encode(resampled))
        target.mux(stream.encode(None))


def main() -> None:
    for name, (voice, speed) in VOICES.items():
        text = (SPEECH / f"{name}.txt").read_text(encoding="utf-8").strip()
        synthesise(text, voice, speed, SPEECH / f"{name}.ogg")
        print(f"{name}.ogg: {voice} at {speed} wpm, {(SPEECH / f'{name}.ogg').stat().st_size} bytes")


if __name__ == "__main__":
    main()

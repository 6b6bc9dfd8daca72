"""Speed and accuracy per transcription mode: scripts/bench asr [--runs N] [--write-results]

Transcribes the committed spoken clips (tests/data/speech/*.ogg, texts beside them) with the
worker's own code path (worker.transcription.whisper_segments and the options a request
sets), in one process with the model loaded once, modes alternated run by run so each sees
the same noise: once as they are (a file each, about a minute), and once joined into one long
recording (a WAV written for the run), where batching has windows to batch. Prints per mode
the real-time factor (seconds of audio per second of wall time, median of the runs) and the
word error rate against the known texts, with the load average and CPU time: the machine is
shared, and the factor is only as good as the cores it got.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

from bench.report import code_version, machine, write_results
from bench.wer import edits, words
from live_progress.plugins.audio.worker.model import load_model
from live_progress.plugins.audio.worker.options import TranscribeOptions
from live_progress.plugins.audio.worker.transcription import probe_duration, whisper_segments

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / "tests" / "data" / "speech"
START, END = "<!-- bench.asr:start -->", "<!-- bench.asr:end -->"
MODES = ("accurate", "fast")


@dataclass
class ModeResult:
    mode: str
    files: str  # which set of files
    seconds: list[float]  # wall time of each run over all clips
    cpu: list[float]  # CPU time of this process (all its threads) for each run
    errors: int  # word edits against the known texts (first run)
    reference_words: int

    @property
    def wer(self) -> float:
        return self.errors / self.reference_words


def clips() -> list[tuple[Path, str]]:
    return [(audio, audio.with_suffix(".txt").read_text(encoding="utf-8")) for audio in sorted(SPEECH.glob("*.ogg"))]


def joined(files: list[tuple[Path, str]], folder: Path) -> list[tuple[Path, str]]:
    """The clips one after the other in one 16 kHz WAV, and their texts joined."""
    from faster_whisper.audio import decode_audio

    out = folder / "joined.wav"
    with wave.open(str(out), "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(16_000)
        for path, _ in files:
            target.writeframes((decode_audio(str(path)) * 32767).astype("<i2").tobytes())
    return [(out, " ".join(text for _, text in files))]


def run(runs: int) -> tuple[list[ModeResult], float, float, float]:
    model = load_model(os.environ.get("WHISPER_MODEL") or None)
    sources = {mode: whisper_segments(model, TranscribeOptions(mode=mode)) for mode in MODES}  # type: ignore[arg-type]
    results = []
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        sets = {"a file per clip": clips(), "the clips as one recording": joined(clips(), Path(tmp))}
        audio = sum(probe_duration(path) for path, _ in sets["a file per clip"])
        list(sources["accurate"](sets["a file per clip"][0][0]))  # warm-up: the first decode sets things up
        for name, files in sets.items():
            by_mode = {mode: ModeResult(mode, name, [], [], 0, 0) for mode in MODES}
            for index in range(runs):
                for mode in MODES if index % 2 == 0 else MODES[::-1]:
                    started, cpu = time.perf_counter(), time.process_time()
                    texts = [" ".join(s.text for s in sources[mode](path)) for path, _ in files]
                    by_mode[mode].seconds.append(time.perf_counter() - started)
                    by_mode[mode].cpu.append(time.process_time() - cpu)
                    if index == 0:
                        for (_, known), heard in zip(files, texts, strict=True):
                            by_mode[mode].errors += edits(words(known), words(heard))
                            by_mode[mode].reference_words += len(words(known))
            results.extend(by_mode.values())
    return results, audio, load_at_start, os.getloadavg()[0]


def render(results: list[ModeResult], audio: float, runs: int, load_at_start: float, load_at_end: float) -> str:
    baseline = {r.files: statistics.median(r.seconds) for r in results if r.mode == "accurate"}
    lines = [
        f"`scripts/bench asr --runs {runs}` measured {time.strftime('%Y-%m-%d')} at commit {code_version()}, on"
        f" {machine()}; model {os.environ.get('WHISPER_MODEL') or 'tiny.en'} int8 on the CPU; {len(clips())} espeak-ng"
        f" clips, {audio:.0f} s of audio, {results[0].reference_words} words; median of {runs} runs per mode;"
        f" load average {load_at_start:.1f} when it started, {load_at_end:.1f} when it ended.",
        "",
        "| audio | mode | decoding | wall time | real-time factor | speed-up | CPU time | audio per CPU second"
        " | word error rate |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        wall, cpu = statistics.median(result.seconds), statistics.median(result.cpu)
        options = TranscribeOptions(mode=result.mode)  # type: ignore[arg-type]
        beam = f"{'batched pipeline, ' if options.batched else ''}beam {options.decoding()['beam_size']}"
        lines.append(
            f"| {result.files} | `{result.mode}` | {beam} | {wall:.2f} s | {audio / wall:.1f}x"
            f" | {baseline[result.files] / wall:.2f} |"
            f" {cpu:.1f} s | {audio / cpu:.1f} s | {100 * result.wer:.1f} % |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per mode (median wall time)")
    parser.add_argument(
        "--write-results", action="store_true", help="rewrite the bench.asr block in docs/transcription.md"
    )
    args = parser.parse_args()
    results, audio, load_at_start, load_at_end = run(args.runs)
    block = render(results, audio, args.runs, load_at_start, load_at_end)
    print(block)
    if args.write_results:
        write_results(ROOT / "docs" / "transcription.md", block, START, END)


if __name__ == "__main__":
    main()

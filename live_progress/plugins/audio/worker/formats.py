"""Writing a transcript in the formats a task asks for: txt, srt, vtt, tsv, json.

Subtitles, TSV and JSON come from whisper-ctranslate2's own writers (``write_result`` of
``whisper_ctranslate2.writers``), fed the result dict they expect. Their ``__call__`` is not
used: it names the file from the audio's base name alone, and this service mirrors subfolders
and keeps the extension when two files share a stem. ``txt`` stays this service's own: the
whole transcript as one paragraph, the same text as the result's ``value`` (whisper-ctranslate2
writes one line per segment), as ``<stem>.txt`` always was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from whisper_ctranslate2.writers import get_writer

from live_progress.plugins.audio.worker.checkpoint import Transcript

# What whisper-ctranslate2's command line passes its writers by default: one cue per segment.
_WRITER_OPTIONS: dict[str, Any] = {
    "highlight_words": False,
    "max_line_count": None,
    "max_line_width": None,
    "max_words_per_line": None,
    "pretty_json": False,
}


def output_names(folder: Path, transcripts: Sequence[Transcript], formats: Sequence[str]) -> list[list[str]]:
    """Per transcript, the names (relative to the transcripts folder) of its files, one per
    format; none for a file that failed. Subfolders are mirrored; a.mp3 and a.wav side by side
    keep their extension (a.mp3.srt, a.wav.srt) so that neither overwrites the other."""
    stems = Counter(t.path.with_suffix("") for t in transcripts if t.error is None)
    names = []
    for transcript in transcripts:
        if transcript.error is not None:
            names.append([])
            continue
        relative = transcript.path.relative_to(folder)
        base = relative.name if stems[transcript.path.with_suffix("")] > 1 else relative.stem
        names.append([(relative.parent / f"{base}.{fmt}").as_posix() for fmt in formats])
    return names


def write_format(transcript: Transcript, fmt: str, out: TextIO) -> None:
    if fmt == "txt":
        out.write(transcript.text + "\n")
        return
    writer = get_writer(fmt, ".")
    writer.write_result(whisper_result(transcript), out, _WRITER_OPTIONS)  # type: ignore[attr-defined]


def whisper_result(transcript: Transcript) -> dict[str, Any]:
    """The result dict whisper (and whisper-ctranslate2's writers) work with."""
    segments = [{"id": i, **segment.as_dict()} for i, segment in enumerate(transcript.segments)]
    return {"text": transcript.text, "segments": segments}

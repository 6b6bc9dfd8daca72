"""Transcript files per format, written by whisper-ctranslate2's writers (txt by ours), exact bytes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from live_progress.plugins.audio.worker.checkpoint import TimedSegment, Transcript, Word
from live_progress.plugins.audio.worker.formats import output_names, write_format
from live_progress.plugins.audio.worker.options import TranscribeOptions

TRANSCRIPT = Transcript(
    Path("/data/a.mp3"),
    text="Hello there. General Kenobi.",
    segments=(TimedSegment(0.0, 1.5, "Hello there."), TimedSegment(1.5, 3723.25, "General Kenobi.")),
)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("txt", "Hello there. General Kenobi.\n"),
        (
            "srt",
            "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n00:00:01,500 --> 01:02:03,250\nGeneral Kenobi.\n\n",
        ),
        ("vtt", "WEBVTT\n\n00:00.000 --> 00:01.500\nHello there.\n\n00:01.500 --> 01:02:03.250\nGeneral Kenobi.\n\n"),
        ("tsv", "start\tend\ttext\n0\t1500\tHello there.\n1500\t3723250\tGeneral Kenobi.\n"),
    ],
)
def test_each_format_is_written_as_whisper_writes_it(fmt: str, expected: str) -> None:
    out = io.StringIO()
    write_format(TRANSCRIPT, fmt, out)
    assert out.getvalue() == expected


def test_json_holds_the_text_and_each_segment_with_its_times() -> None:
    out = io.StringIO()
    write_format(TRANSCRIPT, "json", out)
    assert json.loads(out.getvalue()) == {
        "text": "Hello there. General Kenobi.",
        "segments": [
            {"id": 0, "start": 0.0, "end": 1.5, "text": "Hello there."},
            {"id": 1, "start": 1.5, "end": 3723.25, "text": "General Kenobi."},
        ],
    }


def test_with_word_timestamps_json_has_words_and_subtitles_stay_per_segment() -> None:
    words = (Word(0.0, 0.6, " Hello", 0.9), Word(0.6, 1.4, " there.", 0.8))
    transcript = Transcript(
        Path("/data/a.mp3"), text="Hello there.", segments=(TimedSegment(0.0, 1.5, "Hello there.", words),)
    )
    srt, data = io.StringIO(), io.StringIO()

    write_format(transcript, "srt", srt)
    write_format(transcript, "json", data)

    assert srt.getvalue() == "1\n00:00:00,000 --> 00:00:01,400\nHello there.\n\n"
    assert json.loads(data.getvalue())["segments"][0]["words"] == [
        {"start": 0.0, "end": 0.6, "word": " Hello", "probability": 0.9},
        {"start": 0.6, "end": 1.4, "word": " there.", "probability": 0.8},
    ]


def test_output_names_mirror_subfolders_keep_shared_stems_apart_and_skip_errors() -> None:
    folder = Path("/data")
    transcripts = [
        Transcript(folder / "a.mp3", text="x"),
        Transcript(folder / "a.wav", text="y"),
        Transcript(folder / "sub" / "b.flac", text="z"),
        Transcript(folder / "c.ogg", error="Could not transcribe c.ogg: bad"),
    ]

    assert output_names(folder, transcripts, ["srt", "json"]) == [
        ["a.mp3.srt", "a.mp3.json"],
        ["a.wav.srt", "a.wav.json"],
        ["sub/b.srt", "sub/b.json"],
        [],
    ]


@pytest.mark.parametrize(
    ("options", "decoding"),
    [
        (TranscribeOptions(), {"language": None, "beam_size": 5, "vad_filter": False, "word_timestamps": False}),
        (
            TranscribeOptions(language="en", vad=True, word_timestamps=True),
            {"language": "en", "beam_size": 5, "vad_filter": True, "word_timestamps": True},
        ),
        # The batched pipeline finds its windows by VAD, asked or not.
        (
            TranscribeOptions(mode="fast"),
            {"language": None, "beam_size": 1, "vad_filter": True, "word_timestamps": False},
        ),
    ],
)
def test_options_become_faster_whisper_arguments(options: TranscribeOptions, decoding: dict[str, object]) -> None:
    assert options.decoding() == decoding


def test_options_from_task_kwargs_round_trip_and_refuse_what_the_web_would() -> None:
    options = TranscribeOptions.of(formats=["srt", "json"], mode="fast", vad=True)
    assert TranscribeOptions.of(**options.task_kwargs()) == options
    assert TranscribeOptions.of() == TranscribeOptions()  # an older message: no parameters
    with pytest.raises(ValueError, match="formats"):
        TranscribeOptions.of(formats=["docx"])
    with pytest.raises(ValueError, match="mode"):
        TranscribeOptions.of(mode="quick")

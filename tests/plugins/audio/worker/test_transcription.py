"""Transcribing a folder with a hand-written segment source, on real files under tmp_path."""

from __future__ import annotations

import json
import os
import shutil
import wave
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from live_progress.plugins.audio.worker.checkpoint import Checkpoint, Handover, Partial, TimedSegment, Transcript, Word
from live_progress.plugins.audio.worker.progress import Meta
from live_progress.plugins.audio.worker.transcription import (
    TRANSCRIPTS_FOLDER,
    _within,
    find_audio_files,
    probe_duration,
    transcribe_files,
    write_transcripts,
)
from tests.conftest import DATA


@dataclass(frozen=True)
class Segment:
    end: float
    text: str
    start: float = 0.0


def _wav(path: Path, seconds: float) -> Path:
    """A silent 8 kHz WAV whose container says exactly ``seconds`` long."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * int(8000 * seconds))
    return path


def test_find_audio_files_is_recursive_case_insensitive_and_sorted() -> None:
    batch = DATA / "batch"

    found = find_audio_files(batch)

    # Each folder's files in name order, then its subfolders; notes.txt is not audio.
    assert found == [batch / "train.WAV", batch / "weather.mp3", batch / "sub" / "cooking.flac"]


def test_find_audio_files_order_does_not_depend_on_creation_order(tmp_path: Path) -> None:
    for name in ["z/2.ogg", "b.wav", "a/1.mp3", "c.M4A", "a/0.flac", ".mp3", "z/notes.txt", "a.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")

    found = [path.relative_to(tmp_path).as_posix() for path in find_audio_files(tmp_path)]

    assert found == ["b.wav", "c.M4A", "a/0.flac", "a/1.mp3", "z/2.ogg"]


def test_find_audio_files_in_a_folder_without_audio_is_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not audio")

    assert find_audio_files(tmp_path) == []


@pytest.mark.parametrize(
    ("clip", "seconds"),
    [
        pytest.param("batch/weather.mp3", 5.16, id="mp3"),
        pytest.param("batch/train.WAV", 5.32, id="wav-upper-case"),
        pytest.param("batch/sub/cooking.flac", 6.15, id="flac"),
        pytest.param("with_corrupt/good.ogg", 5.01, id="ogg"),
        pytest.param("long/story.mp3", 27.17, id="long-mp3"),
    ],
)
def test_probe_duration_reads_the_clip_length(clip: str, seconds: float) -> None:
    assert probe_duration(DATA / clip) == pytest.approx(seconds, abs=0.2)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(DATA / "with_corrupt" / "broken.mp3", id="not-audio"),
        pytest.param(DATA / "missing.mp3", id="missing"),
    ],
)
def test_probe_duration_of_an_unreadable_file_is_0(path: Path) -> None:
    assert probe_duration(path) == 0.0


def _source(script: dict[str, list[Segment | Exception]]) -> Callable[[Path], Iterator[Segment]]:
    """Segments per file name; an exception in the list is raised after the segments before it."""

    def segments_of(path: Path) -> Iterator[Segment]:
        for item in script[path.name]:
            if isinstance(item, Exception):
                raise item
            yield item

    return segments_of


def test_progress_goes_through_each_segment(tmp_path: Path) -> None:
    paths = [_wav(tmp_path / "a.wav", 1.0), _wav(tmp_path / "b.wav", 3.0)]
    source = _source(
        {
            "a.wav": [Segment(0.5, " Hello "), Segment(1.0, "world.")],
            "b.wav": [Segment(1.5, "Second"), Segment(3.0, "file.")],
        }
    )
    reports: list[Meta] = []

    transcribe_files(paths, source, reports.append)

    # 4 s of audio: a.wav is the first quarter, b.wav the rest.
    assert [(m["percent"], m["current"], m["description"]) for m in reports] == [
        (0, 1, "Transcribing a.wav (1 of 2)"),
        (12, 1, "Transcribing a.wav (1 of 2)"),
        (25, 1, "Transcribing a.wav (1 of 2)"),
        (25, 2, "Transcribing b.wav (2 of 2)"),
        (62, 2, "Transcribing b.wav (2 of 2)"),
        (99, 2, "Transcribing b.wav (2 of 2)"),
    ]
    assert {m["total"] for m in reports} == {2}


def test_transcripts_join_the_stripped_segment_texts(tmp_path: Path) -> None:
    path = _wav(tmp_path / "a.wav", 1.0)
    source = _source({"a.wav": [Segment(0.3, " Hello "), Segment(0.5, "  "), Segment(1.0, "world.\n")]})

    [transcript] = transcribe_files([path], source, lambda meta: None)

    assert transcript.text == "Hello world."
    assert [(s.end, s.text) for s in transcript.segments] == [(0.3, "Hello"), (1.0, "world.")]


def test_segment_ends_past_the_file_do_not_run_ahead(tmp_path: Path) -> None:
    paths = [_wav(tmp_path / "a.wav", 1.0), _wav(tmp_path / "b.wav", 3.0)]
    source = _source({"a.wav": [Segment(50.0, "late")], "b.wav": [Segment(1.5, "x")]})
    reports: list[Meta] = []

    transcribe_files(paths, source, reports.append)

    assert [m["percent"] for m in reports] == [0, 25, 25, 62]


def test_a_file_whose_source_fails_gets_an_error_and_the_rest_are_transcribed(tmp_path: Path) -> None:
    paths = [_wav(tmp_path / name, 2.0) for name in ("a.wav", "b.wav", "c.wav")]
    source = _source(
        {
            "a.wav": [Segment(2.0, "first")],
            "b.wav": [Segment(1.0, "half"), RuntimeError("decoder gave up")],
            "c.wav": [Segment(1.0, "third"), Segment(2.0, "file")],
        }
    )
    reports: list[Meta] = []

    transcripts = transcribe_files(paths, source, reports.append)

    assert [(t.text, t.error) for t in transcripts] == [
        ("first", None),
        ("", "Could not transcribe b.wav: decoder gave up"),
        ("third file", None),
    ]
    assert [[s.text for s in t.segments] for t in transcripts] == [["first"], [], ["third", "file"]]
    percents = [m["percent"] for m in reports]
    assert percents == sorted(percents)
    assert reports[-1]["description"] == "Transcribing c.wav (3 of 3)"


def test_undecodable_file_weighs_nothing_and_fails_alone(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp3"
    shutil.copy(DATA / "with_corrupt" / "broken.mp3", broken)
    good = _wav(tmp_path / "good.wav", 2.0)

    def segments_of(path: Path) -> Iterator[Segment]:
        if path == broken:
            raise ValueError("Invalid data found when processing input")
        yield Segment(1.0, "fine")

    reports: list[Meta] = []
    transcripts = transcribe_files([broken, good], segments_of, reports.append)

    assert [t.error is None for t in transcripts] == [False, True]
    # broken.mp3 has no known duration: good.wav is all of the batch's audio.
    assert [m["percent"] for m in reports] == [0, 0, 50]


def test_as_text_response_of_a_transcript_lists_its_files() -> None:
    transcript = Transcript(Path("/data/a.mp3"), text="Hello world.", files=({"format": "srt", "name": "a.srt"},))

    assert transcript.as_text_response() == {
        "output_type": "text",
        "value": "Hello world.",
        "title": "/data/a.mp3",
        "subtitle": None,
        "files": [{"format": "srt", "name": "a.srt"}],
    }


def test_as_text_response_of_an_error_says_error_in_the_subtitle() -> None:
    transcript = Transcript(Path("/data/b.mp3"), error="Could not transcribe b.mp3: bad data")

    assert transcript.as_text_response() == {
        "output_type": "text",
        "value": "Could not transcribe b.mp3: bad data",
        "title": "/data/b.mp3",
        "subtitle": "error",
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of tests/data/batch: the code under test writes beside the audio."""
    copy = tmp_path / "batch"
    shutil.copytree(DATA / "batch", copy)
    return copy


def _transcripts(folder: Path) -> list[Transcript]:
    return [
        Transcript(folder / "train.WAV", text="The train to London was late."),
        Transcript(folder / "weather.mp3", error="Could not transcribe weather.mp3: bad data"),
        Transcript(folder / "sub" / "cooking.flac", text="First, chop the onions."),
    ]


def _written(target: Path) -> dict[str, str]:
    return {
        path.relative_to(target).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(target.rglob("*"))
        if path.is_file()
    }


def test_write_transcripts_beside_the_audio_mirroring_subfolders(folder: Path, tmp_path: Path) -> None:
    fallback = tmp_path / "fallback"

    written_to = write_transcripts(folder, _transcripts(folder), fallback)

    assert written_to == folder / TRANSCRIPTS_FOLDER
    assert _written(written_to) == {
        "train.txt": "The train to London was late.\n",
        "sub/cooking.txt": "First, chop the onions.\n",
    }
    assert not fallback.exists()


def test_write_transcripts_with_only_errors_still_gives_a_folder(folder: Path, tmp_path: Path) -> None:
    transcripts = [Transcript(folder / "weather.mp3", error="bad data")]

    written_to = write_transcripts(folder, transcripts, tmp_path / "fallback")

    assert written_to.is_dir()
    assert _written(written_to) == {}


def _make_unwritable(folder: Path) -> None:
    if os.geteuid() == 0:
        # root writes through chmod; a file where the folder must go stops mkdir for anyone.
        (folder / TRANSCRIPTS_FOLDER).write_text("in the way")
    else:
        folder.chmod(0o555)


def test_write_transcripts_fall_back_when_the_folder_is_unwritable(folder: Path, tmp_path: Path) -> None:
    fallback = tmp_path / "fallback" / "task-1"
    _make_unwritable(folder)
    try:
        written_to = write_transcripts(folder, _transcripts(folder), fallback)
    finally:
        folder.chmod(0o755)

    assert written_to == fallback
    assert _written(fallback) == {
        "train.txt": "The train to London was late.\n",
        "sub/cooking.txt": "First, chop the onions.\n",
    }


def test_files_that_share_a_stem_both_keep_their_transcript(folder: Path, tmp_path: Path) -> None:
    transcripts = [
        Transcript(folder / "train.WAV", text="From the WAV."),
        Transcript(folder / "train.mp3", text="From the MP3."),
    ]

    written_to = write_transcripts(folder, transcripts, tmp_path / "fallback")

    assert sorted(_written(written_to).values()) == ["From the MP3.\n", "From the WAV.\n"]


class _ResumableSource:
    """Segments per file name, from ``start`` on, as faster-whisper's clip_timestamps gives them."""

    def __init__(self, script: dict[str, list[Segment]]) -> None:
        self._script = script
        self.calls: list[tuple[str, float, str | None]] = []

    def __call__(self, path: Path, start: float = 0.0, prompt: str | None = None) -> Iterator[Segment]:
        self.calls.append((path.name, start, prompt))
        return iter([segment for segment in self._script[path.name] if segment.end > start])


def test_a_stop_hands_over_at_a_segments_end_and_the_resumed_batch_carries_on_from_there(tmp_path: Path) -> None:
    paths = [_wav(tmp_path / "a.wav", 1.0), _wav(tmp_path / "b.wav", 3.0)]
    script = {
        "a.wav": [Segment(0.5, " Hello "), Segment(1.0, "world.")],
        "b.wav": [Segment(1.5, "Second"), Segment(3.0, "file.")],
    }
    whole = transcribe_files(paths, _ResumableSource(script), lambda meta: None)
    first: list[Meta] = []

    with pytest.raises(Handover) as stopped:
        # The worker is told to stop while b.wav's first segment is being transcribed.
        transcribe_files(
            paths, _ResumableSource(script), first.append, stopping=lambda: bool(first) and first[-1]["current"] == 2
        )

    checkpoint = Checkpoint.from_fields(json.loads(json.dumps(stopped.value.checkpoint.to_fields())))
    assert checkpoint.done == {0: whole[0]}
    assert checkpoint.partial == Partial(1, 1.5, (TimedSegment(0.0, 1.5, "Second"),))
    assert checkpoint.percent == first[-1]["percent"] == 62
    assert checkpoint.waiting_meta()["percent"] == 62

    source, rest = _ResumableSource(script), []
    resumed = transcribe_files(paths, source, rest.append, resume=checkpoint)
    assert resumed == whole
    # The resumed file's segments: the one before the stop, then the rest, each once, in order.
    assert [(s.end, s.text) for s in resumed[1].segments] == [(1.5, "Second"), (3.0, "file.")]
    assert source.calls == [("b.wav", 1.5, "Second")]  # nothing transcribed twice
    assert [m["percent"] for m in rest] == [62, 99]


def test_a_stop_before_any_segment_hands_over_with_nothing_done(tmp_path: Path) -> None:
    paths = [_wav(tmp_path / "a.wav", 1.0)]
    with pytest.raises(Handover) as stopped:
        transcribe_files(
            paths, _ResumableSource({"a.wav": [Segment(1.0, "One.")]}), lambda meta: None, stopping=lambda: True
        )
    assert stopped.value.checkpoint.done == {}
    assert stopped.value.checkpoint.partial == Partial(0, 1.0, (TimedSegment(0.0, 1.0, "One."),))


def test_a_checkpoint_keeps_segments_and_words_through_json() -> None:
    words = (Word(0.0, 0.5, " One", 0.5),)
    segment = TimedSegment(0.0, 0.5, "One", words)
    checkpoint = Checkpoint(
        (Path("/a.wav"), Path("/b.wav")),
        {0: Transcript(Path("/a.wav"), text="One", segments=(segment,))},
        Partial(1, 2.0, (TimedSegment(0.5, 2.0, "Two"),), tokens=(50, 51)),
        40,
    )

    assert Checkpoint.from_fields(json.loads(json.dumps(checkpoint.to_fields()))) == checkpoint


def test_a_checkpoint_of_an_older_worker_starts_its_half_done_file_over() -> None:
    old = (
        '{"paths": ["/a.wav", "/b.wav"], "done": {"0": {"text": "One", "error": null}},'
        ' "partial": {"index": 1, "seconds": 2.0, "texts": ["Two"]}, "percent": 40}'
    )

    checkpoint = Checkpoint.from_fields(json.loads(old))

    assert checkpoint.done == {0: Transcript(Path("/a.wav"), text="One")}
    assert checkpoint.partial is None
    assert checkpoint.percent == 40


class _Journal:
    """Keeps the checkpoint's fields as Redis would (a field set to None is removed), and the
    segments published, each with the fields saved in the same step."""

    def __init__(self, fields: dict[str, Any] | None = None) -> None:
        self.fields: dict[str, Any] = dict(fields or {})
        self.published: list[tuple[str, float, str]] = []
        self.after: list[dict[str, Any]] = []  # the fields as they stood after each segment
        self.items: list[str] = []

    def _merge(self, checkpoint: Mapping[str, Any]) -> None:
        for name, value in json.loads(json.dumps(dict(checkpoint))).items():
            if value is None:
                self.fields.pop(name, None)
            else:
                self.fields[name] = value

    def segment(self, path: Path, segment: Any, checkpoint: Mapping[str, Any]) -> None:
        self.published.append((path.name, segment.end, segment.text.strip()))
        self._merge(checkpoint)
        self.after.append(dict(self.fields))

    def save(self, checkpoint: Mapping[str, Any]) -> None:
        self._merge(checkpoint)

    def working_on(self, item: str) -> None:
        self.items.append(item)


def test_a_batch_resumed_from_its_journal_after_any_segment_publishes_each_segment_once(tmp_path: Path) -> None:
    """What a worker killed right after any segment leaves: the next attempt carries on from
    there, and the segments published by both, together, are the undisturbed run's, once each."""
    paths = [_wav(tmp_path / "a.wav", 1.0), _wav(tmp_path / "b.wav", 3.0), _wav(tmp_path / "c.wav", 2.0)]
    script = {
        "a.wav": [Segment(0.5, " Hello "), Segment(1.0, "world.")],
        "b.wav": [Segment(1.5, "Second"), Segment(2.0, " "), Segment(3.0, "file.")],
        "c.wav": [Segment(2.0, "Third one.")],
    }
    undisturbed = _Journal({"paths": [str(p) for p in paths], "percent": 0})
    whole = transcribe_files(paths, _ResumableSource(script), lambda meta: None, journal=undisturbed)
    assert undisturbed.items == ["a.wav", "b.wav", "c.wav"]
    assert Checkpoint.from_fields(undisturbed.fields) == Checkpoint(tuple(paths), dict(enumerate(whole)), None, 99)

    for killed_after, fields in enumerate(undisturbed.after):
        resume = Checkpoint.from_fields(fields)
        assert resume is not None
        journal = _Journal(fields)
        resumed = transcribe_files(paths, _ResumableSource(script), lambda meta: None, resume, journal=journal)
        assert resumed == whole, f"killed after segment {killed_after}"
        assert undisturbed.published[: killed_after + 1] + journal.published == undisturbed.published


@dataclass(frozen=True)
class WindowedSegment:
    """A segment as faster-whisper yields it: ``seek``, the frame its 30-s window began at, and
    the model's tokens of its text, decoded at ``temperature``."""

    seek: int
    start: float
    end: float
    text: str
    tokens: tuple[int, ...] = ()
    temperature: float = 0.0


Window = list[tuple[float, float, str]]


class _WindowedSource:
    """Decodes window by window, as the model does: from ``start`` on, each window yields its
    segments together, and the next window begins at the last one's end. A start that is no
    window's start decodes ``cut[start]`` (the model cuts its windows where it is started)."""

    def __init__(
        self,
        windows: list[Window],
        tokens: dict[str, tuple[int, ...]] | None = None,
        hot: frozenset[float] = frozenset(),
        cut: dict[float, list[Window]] | None = None,
    ) -> None:
        self._windows, self._tokens, self._hot, self._cut = windows, tokens or {}, hot, cut or {}
        self.calls: list[tuple[float, object]] = []

    def __call__(self, path: Path, start: float = 0.0, prompt: object = None) -> Iterator[WindowedSegment]:
        self.calls.append((start, prompt))
        windows = self._cut.get(start) or [w for w in self._windows if w[0][0] + 1e-9 >= start]
        for window in windows:
            begins = window[0][0]
            for seg_start, seg_end, text in window:
                temperature = 0.6 if begins in self._hot else 0.0
                yield WindowedSegment(
                    round(begins * 100), seg_start, seg_end, text, self._tokens.get(text, ()), temperature
                )


def test_a_file_resumed_mid_window_decodes_that_window_again_and_publishes_none_of_it_twice(tmp_path: Path) -> None:
    """Killed while a window's segments were being published: the next worker decodes that
    window from its start (as the undisturbed run did) and publishes only what was not."""
    paths = [_wav(tmp_path / "a.wav", 9.0)]
    windows = [
        [(0.0, 1.0, "One."), (1.0, 2.5, "Two."), (2.5, 3.0, "Three.")],
        [(3.0, 4.0, "Four."), (4.0, 6.0, "Five."), (6.0, 7.0, " ")],
        [(7.0, 9.0, "Six.")],
    ]
    undisturbed = _Journal({"paths": [str(p) for p in paths], "percent": 0})
    whole = transcribe_files(paths, _WindowedSource(windows), lambda meta: None, journal=undisturbed)
    assert whole[0].text == "One. Two. Three. Four. Five. Six."

    for killed_after, fields in enumerate(undisturbed.after):
        resume = Checkpoint.from_fields(fields)
        assert resume is not None and resume.partial is not None
        assert resume.partial.seconds in (0.0, 3.0, 7.0), "resumed at a window's start"
        source, journal = _WindowedSource(windows), _Journal(fields)
        resumed = transcribe_files(paths, source, lambda meta: None, resume, journal=journal)
        assert resumed == whole, f"killed after segment {killed_after}"
        assert undisturbed.published[: killed_after + 1] + journal.published == undisturbed.published
        assert [start for start, _prompt in source.calls] == [resume.partial.seconds]


def test_a_file_stopped_again_while_its_window_is_decoded_again_publishes_none_of_it_twice(tmp_path: Path) -> None:
    """Killed mid-window, then the worker that decodes the window again stops before it has
    come to what was published (a second fault: chaos found it): the third publishes only what
    neither did."""
    paths = [_wav(tmp_path / "a.wav", 9.0)]
    windows = [
        [(0.0, 1.0, "One."), (1.0, 2.5, "Two."), (2.5, 3.0, "Three.")],
        [(3.0, 4.0, "Four."), (4.0, 6.0, "Five."), (6.0, 7.0, "Six.")],
        [(7.0, 9.0, "Seven.")],
    ]
    undisturbed = _Journal({"paths": [str(p) for p in paths], "percent": 0})
    whole = transcribe_files(paths, _WindowedSource(windows), lambda meta: None, journal=undisturbed)

    stopped_again = 0
    for killed_after, fields in enumerate(undisturbed.after):
        for stop_after in (1, 2):
            decoded = 0

            def stopping(stop_after: int = stop_after) -> bool:
                nonlocal decoded
                decoded += 1
                return decoded >= stop_after

            second = _Journal(fields)
            try:
                transcribe_files(paths, _WindowedSource(windows), lambda m: None, _resume(fields), stopping, second)
                continue
            except Handover as handover:
                second.save(handover.checkpoint.to_fields())  # as Job.hand_over keeps it
            stopped_again += 1
            third = _Journal(second.fields)
            resumed = transcribe_files(
                paths, _WindowedSource(windows), lambda m: None, _resume(second.fields), journal=third
            )
            assert resumed == whole, (killed_after, stop_after)
            published = undisturbed.published[: killed_after + 1] + second.published + third.published
            assert published == undisturbed.published, (killed_after, stop_after)
    assert stopped_again >= 8


def _resume(fields: Mapping[str, Any]) -> Checkpoint:
    resume = Checkpoint.from_fields(json.loads(json.dumps(dict(fields))))
    assert resume is not None
    return resume


def test_a_file_resumed_mid_window_is_prompted_with_the_tokens_that_window_was_decoded_after(tmp_path: Path) -> None:
    """The model is prompted with its own tokens of the windows before (the last 223, none after
    a window decoded hot), so the window resumed decodes as it did; the text would tokenise anew."""
    paths = [_wav(tmp_path / "a.wav", 12.0)]
    windows = [
        [(0.0, 1.0, "One."), (1.0, 3.0, "Two.")],
        [(3.0, 4.0, "Three."), (4.0, 6.0, "Four.")],
        [(6.0, 8.0, "Five."), (8.0, 9.0, "Six.")],
        [(9.0, 12.0, "Seven.")],
    ]
    tokens = {"One.": (1, 2), "Two.": tuple(range(10, 310)), "Three.": (3,), "Four.": (4,), "Five.": (5,), "Six.": (6,)}
    prompted = {0.0: None, 3.0: ((1, 2) + tuple(range(10, 310)))[-223:], 6.0: None, 9.0: (5, 6)}
    undisturbed = _Journal({"paths": [str(p) for p in paths], "percent": 0})
    whole = transcribe_files(
        paths, _WindowedSource(windows, tokens, hot=frozenset({3.0})), lambda m: None, journal=undisturbed
    )

    for killed_after, fields in enumerate(undisturbed.after):
        resume = Checkpoint.from_fields(json.loads(json.dumps(fields)))
        assert resume is not None and resume.partial is not None
        source = _WindowedSource(windows, tokens, hot=frozenset({3.0}))
        resumed = transcribe_files(paths, source, lambda m: None, resume, journal=_Journal(fields))
        assert resumed == whole, f"killed after segment {killed_after}"
        [(start, prompt)] = source.calls
        assert prompt == prompted[start], f"killed after segment {killed_after}"


def test_a_window_decoded_otherwise_on_resume_keeps_what_was_published_and_goes_on_from_its_end(
    tmp_path: Path,
) -> None:
    paths = [_wav(tmp_path / "a.wav", 6.0)]
    published = (TimedSegment(3.0, 4.0, "Four."),)
    begun = Partial(0, 3.0, (TimedSegment(0.0, 3.0, "One two three."),), published, tokens=(1, 2, 3))
    resume = Checkpoint(tuple(paths), {}, begun, 50)
    windows = [[(0.0, 3.0, "One two three.")], [(3.0, 5.0, "For fi-"), (5.0, 6.0, "ve.")]]
    source = _WindowedSource(windows, cut={4.0: [[(4.0, 6.0, "Five.")]]})
    journal = _Journal()

    [transcript] = transcribe_files(paths, source, lambda meta: None, resume, journal=journal)

    assert transcript.text == "One two three. Four. Five."
    assert journal.published == [("a.wav", 6.0, "Five.")]
    assert source.calls == [(3.0, (1, 2, 3)), (4.0, "One two three. Four.")]


def _model_segment(start: float, end: float, text: str, words: list[tuple[float, float]] | None = None) -> Any:
    from faster_whisper.transcribe import Segment as ModelSegment
    from faster_whisper.transcribe import Word as ModelWord

    timed = None if words is None else [ModelWord(a, b, " w", 0.9) for a, b in words]
    return ModelSegment(0, 0, start, end, text, [], -0.1, 1.0, 0.01, timed, 0.0)


def test_a_pieces_segments_stop_at_its_end() -> None:
    """At the end of a piece's audio the model may stamp its last segment past it, or go on
    there: what lies past the end would overlap the next piece's first segments."""
    segments = [
        _model_segment(50.0, 57.9, "Inside."),
        _model_segment(57.9, 67.9, "Stamped past the end.", words=[(57.9, 60.0), (60.0, 63.5), (63.5, 67.9)]),
        _model_segment(67.9, 69.0, "Beyond."),
    ]

    kept = list(_within(iter(segments), 62.0))

    assert [(s.start, s.end, s.text) for s in kept] == [(50.0, 57.9, "Inside."), (57.9, 62.0, "Stamped past the end.")]
    assert [(w.start, w.end) for w in kept[1].words] == [(57.9, 60.0), (60.0, 62.0)]
    assert list(_within(iter(segments), None)) == segments  # a whole file's: as the model gave them

"""What the terminal client makes of a task's states: kinds, exit codes, transcripts and their files."""

from __future__ import annotations

import io
from pathlib import Path, PurePath
from typing import Any

import pytest
from rich.console import Console

from live_progress.cli.display import BarDisplay, LineDisplay, segment_line
from live_progress.cli.eta import ProgressClock
from live_progress.cli.results import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    exit_code,
    output_names,
    print_transcripts,
    write_transcripts,
)
from live_progress.cli.service import TaskState, poll_kind


def _text(title: str, value: str, subtitle: str | None = None) -> dict[str, Any]:
    return {"output_type": "text", "title": title, "value": value, "subtitle": subtitle}


RESULT = {
    "output_type": "batchtext",
    "texts": [_text("/in/a.mp3", "Alpha."), _text("/in/sub/b.wav", "Beta."), _text("/in/c.mp3", "bad file", "error")],
    "transcripts_dir": "/in/transcripts",
}


@pytest.mark.parametrize(
    ("root", "kind"),
    [
        ({"title": "progress", "percent": 5, "description": "x"}, "progress"),
        ({"output_type": "text", "title": "status", "value": "Task status: PENDING", "subtitle": None}, "status"),
        ({"output_type": "text", "title": "status", "value": "Task status: WHATEVER", "subtitle": None}, "error"),
        ({"output_type": "text", "title": "error", "value": "Task cancelled", "subtitle": None}, "error"),
        (RESULT, "result"),
    ],
)
def test_poll_kind_follows_the_design_notes_loop(root: dict[str, Any], kind: str) -> None:
    assert poll_kind(root) == kind


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (TaskState("result", {"texts": [_text("/in/a.mp3", "Alpha.")]}), EXIT_OK),
        (TaskState("result", RESULT), EXIT_FAILED),
        (TaskState("error", {"title": "error", "value": "Task failed: boom"}), EXIT_FAILED),
        (TaskState("error", {"title": "error", "value": "Task cancelled"}), EXIT_CANCELLED),
    ],
)
def test_exit_codes(state: TaskState, code: int) -> None:
    assert exit_code(state) == code


def test_printed_transcripts_name_their_files_and_leave_out_failures() -> None:
    out = io.StringIO()
    print_transcripts(RESULT, out)
    assert out.getvalue() == "# /in/a.mp3\nAlpha.\n\n# /in/sub/b.wav\nBeta.\n\n"


def test_output_names_mirror_the_folders_and_keep_clashing_names_apart() -> None:
    names = output_names(["/in/a.mp3", "/in/sub/b.wav", "/in/sub/b.flac", "/in/c.MP3"])
    assert names == {
        "/in/a.mp3": PurePath("a.txt"),
        "/in/sub/b.wav": PurePath("sub/b.wav.txt"),
        "/in/sub/b.flac": PurePath("sub/b.flac.txt"),
        "/in/c.MP3": PurePath("c.txt"),
    }
    assert output_names(["/in/only.mp3"]) == {"/in/only.mp3": PurePath("only.txt")}
    assert output_names([]) == {}


def test_write_transcripts(tmp_path: Path) -> None:
    written = write_transcripts(RESULT, tmp_path / "out")
    assert written == [tmp_path / "out" / "a.txt", tmp_path / "out" / "sub" / "b.txt"]
    assert (tmp_path / "out" / "sub" / "b.txt").read_text() == "Beta.\n"


def _progress(percent: int, description: str) -> TaskState:
    return TaskState("progress", {"title": "progress", "percent": percent, "description": description})


def test_line_display_prints_each_change_once() -> None:
    out = io.StringIO()
    display = LineDisplay(out, ProgressClock(started=0.0))
    for at, state in enumerate([_progress(0, "Preparing"), _progress(0, "Preparing"), _progress(40, "Working")]):
        display.update(state, float(at))
    assert out.getvalue().splitlines() == [
        "  0%  Preparing  (0 s elapsed, estimating…)",
        " 40%  Working  (2 s elapsed, estimating…)",
    ]


def test_bar_display_draws_a_bar_with_percent_and_description() -> None:
    out = io.StringIO()
    display = BarDisplay(Console(file=out, force_terminal=True, width=100), ProgressClock(started=0.0))
    display.update(_progress(40, "Transcribing [b].mp3 (2 of 3)"), 1.0)
    display.close()
    assert "━" in out.getvalue()
    assert " 40%" in out.getvalue()
    assert "Transcribing [b].mp3 (2 of 3)" in out.getvalue()


@pytest.mark.parametrize(
    ("root", "line"),
    [
        ({"file": "/abs/dir/a.mp3", "start": 1.5, "end": 4.25, "text": "Hello."}, "[a.mp3 0:01.5-0:04.2] Hello."),
        ({"file": "C:\\dir\\b.wav", "start": 61, "end": 75.04, "text": "x"}, "[b.wav 1:01.0-1:15.0] x"),
        ({"file": "c.ogg", "start": "junk", "end": None, "text": ""}, "[c.ogg ?-?] "),
    ],
)
def test_a_live_segment_is_one_line_with_its_file_and_times(root: dict, line: str) -> None:
    assert segment_line(root) == line

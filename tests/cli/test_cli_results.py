"""What the terminal client makes of a task's states: kinds, exit codes, texts and their files, other results."""

from __future__ import annotations

import io
from pathlib import Path, PurePath
from typing import Any

import pytest
from rich.console import Console

from live_progress.cli.display import BarDisplay, LineDisplay, live_line
from live_progress.cli.eta import ProgressClock
from live_progress.cli.results import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    download_target,
    exit_code,
    is_batch,
    listed_files,
    output_names,
    print_result,
    print_texts,
    shown,
    table,
    write_texts,
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


def test_printed_texts_name_their_files_and_leave_out_failures() -> None:
    out = io.StringIO()
    print_texts(RESULT, out)
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


def test_write_texts(tmp_path: Path) -> None:
    written = write_texts(RESULT, tmp_path / "out")
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
        (
            {
                "title": "segment",
                "file": "/d/a.mp3",
                "start": 1.5,
                "end": 4.2,
                "text": "Hi.",
                "line": "[a.mp3 0:01.5-0:04.2] Hi.",
            },
            "[a.mp3 0:01.5-0:04.2] Hi.",
        ),
        ({"title": "candidate", "line": "n_estimators=100: accuracy 0.93"}, "n_estimators=100: accuracy 0.93"),
        ({"title": "candidate", "score": 0.5, "name": "é"}, '{"title":"candidate","score":0.5,"name":"é"}'),
    ],
)
def test_a_live_result_is_its_line_or_else_its_json(root: dict, line: str) -> None:
    assert live_line(root) == line


RANKED = {
    "target": "species",
    "features": ["petal_length", "petal_width"],
    "left_out": [],
    "best": {"params": {"n_estimators": 100}, "scores": {"accuracy": {"mean": 0.95333333, "std": 0.0163}}},
    "ranking": [
        {"rank": 1, "n_estimators": 100, "accuracy": 0.95333333, "std": 0.0163},
        {"rank": 2, "n_estimators": 10, "accuracy": 0.94, "std": 0.00001234, "note": None},
    ],
    "files_dir": "/data/models",
    "files": [{"name": "model.joblib"}, {"name": "sub/report.json"}],
}


def test_any_other_result_prints_its_fields_nested_and_its_rows_as_a_table() -> None:
    out = io.StringIO()
    print_result(RANKED, out)
    assert out.getvalue().splitlines() == [
        "target: species",
        "features: petal_length, petal_width",
        "left_out: none",
        "best:",
        "  params: n_estimators 100",
        "  scores:",
        "    accuracy: mean 0.9533 · std 0.0163",
        "ranking:",
        "  rank  n_estimators  accuracy  std       note",
        "  1     100           0.9533    0.0163",
        "  2     10            0.94      1.23e-05",
        "files_dir: /data/models",
    ]
    assert exit_code(TaskState("result", RANKED)) == EXIT_OK


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (3, "3"),
        (2.0, "2"),
        (0.5, "0.5"),
        (1 / 3, "0.3333"),
        (-0.00001234, "-1.23e-05"),
        (True, "True"),
        ([1, "a"], '[1,"a"]'),
    ],
)
def test_values_are_shown_short(value: Any, text: str) -> None:
    assert shown(value) == text


def test_files_listed_for_download_and_where_they_go(tmp_path: Path) -> None:
    assert listed_files(RANKED) == ["model.joblib", "sub/report.json"]
    assert listed_files({"files": [{"path": "/a.mp3"}]}) == []  # no files_dir: rows, not downloads
    assert listed_files(RESULT) == []
    assert download_target(tmp_path, "sub/report.json") == tmp_path / "sub" / "report.json"
    with pytest.raises(ValueError, match="outside"):
        download_target(tmp_path, "../escape")


def test_a_batch_is_a_list_of_texts() -> None:
    assert is_batch(RESULT) and not is_batch(RANKED) and not is_batch({"texts": [{"title": "no value"}]})
    assert table([{"a": 1}, {"b": "x"}]) == ["a  b", "1", "   x"]

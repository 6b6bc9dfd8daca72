"""The progress contract: how a stored Celery state becomes what clients see."""

from __future__ import annotations

import math
from typing import Any

import pytest

from live_progress.contract import progress_meta, view_task, wire_percent
from live_progress.plugins.audio.shared import is_audio_file

TASK_ID = "0b5c5d3e-7a52-4a43-9d0e-3f5e4c1b2a10"


def _stored(status: str, result: Any = None, traceback: str | None = None) -> dict[str, Any]:
    """The meta Celery's Redis backend stores for a task (``celery-task-meta-<id>``)."""
    return {
        "status": status,
        "result": result,
        "traceback": traceback,
        "children": [],
        "date_done": "2024-05-01T12:00:00.000000" if status in {"SUCCESS", "FAILURE", "REVOKED"} else None,
        "task_id": TASK_ID,
    }


def _exception(exc_type: str, *args: Any, module: str = "builtins") -> dict[str, Any]:
    """An exception as Celery's JSON result backend stores it."""
    return {"exc_type": exc_type, "exc_message": list(args), "exc_module": module}


def _text(title: str, value: str) -> dict[str, Any]:
    return {"root": {"output_type": "text", "title": title, "value": value, "subtitle": None}}


def _progress(percent: int, description: str = "", **extra: Any) -> dict[str, Any]:
    return {"root": {"title": "progress", "percent": percent, "description": description, **extra}}


PENDING_BODY = _text("status", "Task status: PENDING")
CANCELLED_BODY = _text("error", "Task cancelled")
BATCH_RESULT = {
    "output_type": "batchtext",
    "texts": [{"output_type": "text", "value": "Hello.", "title": "/data/a.mp3", "subtitle": None}],
    "transcripts_dir": "/data/transcripts",
}

VIEW_CASES = [
    pytest.param(None, "status", PENDING_BODY, id="nothing-stored-is-pending"),
    pytest.param(_stored("PENDING"), "status", PENDING_BODY, id="pending"),
    pytest.param(
        _stored("STARTED", {"pid": 4242, "hostname": "celery@worker-1"}),
        "progress",
        _progress(0),
        id="started-hides-pid-and-hostname",
    ),
    pytest.param(
        _stored("PROGRESS", {"percent": 25, "description": "Transcribing b.mp3 (2 of 8)"}),
        "progress",
        _progress(25, "Transcribing b.mp3 (2 of 8)"),
        id="progress-int-percent",
    ),
    pytest.param(
        _stored("PROGRESS", {"percent": 41.9, "description": "x"}),
        "progress",
        _progress(41, "x"),
        id="progress-float-percent-rounds-down",
    ),
    pytest.param(
        _stored("PROGRESS", {"percent": 99.999, "description": "x"}),
        "progress",
        _progress(99, "x"),
        id="progress-almost-done-is-not-100",
    ),
    pytest.param(
        _stored("PROGRESS", {"percent": "63.5", "description": "x"}),
        "progress",
        _progress(63, "x"),
        id="progress-numeric-string-percent",
    ),
    pytest.param(
        _stored("PROGRESS", {"percent": "a lot", "description": "x"}),
        "progress",
        _progress(0, "x"),
        id="progress-junk-string-percent-is-0",
    ),
    pytest.param(
        _stored("PROGRESS", {"percent": None, "description": "x"}),
        "progress",
        _progress(0, "x"),
        id="progress-none-percent-is-0",
    ),
    pytest.param(
        _stored("PROGRESS", {"percent": 250, "description": "x"}),
        "progress",
        _progress(100, "x"),
        id="progress-above-100-is-capped",
    ),
    pytest.param(
        _stored("PROGRESS", {"percent": -12.5, "description": "x"}),
        "progress",
        _progress(0, "x"),
        id="progress-negative-is-0",
    ),
    pytest.param(
        _stored("PROGRESS", {"percent": math.nan, "description": "x"}),
        "progress",
        _progress(0, "x"),
        id="progress-nan-is-0",
    ),
    pytest.param(
        _stored("PROGRESS", {"percent": 10, "description": "x", "current": 2, "total": 8, "eta_seconds": 31.5}),
        "progress",
        _progress(10, "x", current=2, total=8, eta_seconds=31.5),
        id="progress-extra-fields-pass-through",
    ),
    pytest.param(
        _stored("PROGRESS", {"percent": 10, "description": "x", "title": "mine"}),
        "progress",
        _progress(10, "x"),
        id="progress-meta-cannot-change-the-title",
    ),
    pytest.param(
        _stored("PROGRESS", {"percent": 10, "description": 7}),
        "progress",
        _progress(10, "7"),
        id="progress-description-becomes-text",
    ),
    pytest.param(
        _stored("PROGRESS", {"percent": 10}),
        "progress",
        _progress(10),
        id="progress-without-description",
    ),
    pytest.param(_stored("PROGRESS"), "progress", _progress(0), id="progress-without-meta"),
    pytest.param(
        _stored("RETRY", _exception("ConnectionError", "model server down")),
        "progress",
        _progress(0, "Retrying: model server down"),
        id="retry-says-why",
    ),
    pytest.param(
        _stored("WAITING", {"percent": 45, "description": "Waiting for a worker to carry on", "current": 2}),
        "progress",
        _progress(45, "Waiting for a worker to carry on", current=2),
        id="waiting-keeps-its-progress",
    ),
    pytest.param(
        _stored("DOWNLOADING", {"percent": 5, "description": "Downloading the model", "bytes": 1024}),
        "progress",
        _progress(5, "Downloading the model", bytes=1024),
        id="custom-state-is-running",
    ),
    pytest.param(
        _stored("DOWNLOADING", "not a mapping"),
        "progress",
        _progress(0),
        id="custom-state-with-non-mapping-meta",
    ),
    pytest.param(_stored("SUCCESS", BATCH_RESULT), "result", {"root": BATCH_RESULT}, id="success-is-the-result"),
    pytest.param(
        _stored("FAILURE", _exception("ValueError", "no audio in /data"), traceback="Traceback ..."),
        "error",
        _text("error", "Task failed: no audio in /data"),
        id="failure-gives-the-message",
    ),
    pytest.param(
        _stored("FAILURE", _exception("WorkerLostError", "worker lost", module="billiard.exceptions")),
        "error",
        _text("error", "Task failed: worker lost"),
        id="failure-worker-lost",
    ),
    pytest.param(
        _stored("FAILURE", _exception("KeyError", "a", "b")),
        "error",
        _text("error", "Task failed: a b"),
        id="failure-joins-exception-args",
    ),
    pytest.param(
        _stored("FAILURE", {"exc_type": "ValueError", "exc_message": "plain text", "exc_module": "builtins"}),
        "error",
        _text("error", "Task failed: plain text"),
        id="failure-with-string-message",
    ),
    pytest.param(
        _stored("FAILURE", _exception("MemoryError")),
        "error",
        _text("error", "Task failed: MemoryError"),
        id="failure-without-message-names-the-type",
    ),
    pytest.param(
        _stored("FAILURE", None),
        "error",
        _text("error", "Task failed: unknown error"),
        id="failure-without-exception",
    ),
    pytest.param(
        _stored("REVOKED", _exception("TaskRevokedError", "revoked", module="celery.exceptions")),
        "error",
        CANCELLED_BODY,
        id="revoked-is-cancelled",
    ),
]


@pytest.mark.parametrize(("meta", "kind", "body"), VIEW_CASES)
def test_view_task_maps_each_celery_state_to_the_contract_body(
    meta: dict[str, Any] | None, kind: str, body: dict[str, Any]
) -> None:
    view = view_task(meta)

    assert (view.kind, view.body) == (kind, body)


@pytest.mark.parametrize(("meta", "kind", "body"), VIEW_CASES)
def test_view_is_final_exactly_for_result_and_error(
    meta: dict[str, Any] | None, kind: str, body: dict[str, Any]
) -> None:
    assert view_task(meta).final == (kind in {"result", "error"})


@pytest.mark.parametrize(("meta", "kind", "body"), VIEW_CASES)
def test_non_final_views_keep_a_polling_client_polling(
    meta: dict[str, Any] | None, kind: str, body: dict[str, Any]
) -> None:
    # The seed's pollForResult goes on only for title "progress" or a status saying PENDING.
    view = view_task(meta)
    root = view.body["root"]
    title = root.get("title") if isinstance(root, dict) else None
    keeps_polling = title == "progress" or (title == "status" and "PENDING" in root["value"])

    assert keeps_polling == (not view.final)


@pytest.mark.parametrize("percent", [math.inf, "inf", "1e999"], ids=["float", "string", "huge-string"])
def test_infinite_progress_percent_is_capped_at_100(percent: Any) -> None:
    view = view_task(_stored("PROGRESS", {"percent": percent, "description": "x"}))

    assert (view.kind, view.body) == ("progress", _progress(100, "x"))


RUNNING_CASES = [case for case in VIEW_CASES if case.values[1] == "progress"]


@pytest.mark.parametrize(("meta", "kind", "body"), RUNNING_CASES)
def test_progress_percent_is_an_int_from_0_to_100(meta: dict[str, Any] | None, kind: str, body: dict[str, Any]) -> None:
    # Equality alone would let 41.0 pass for 41; the wire needs an int.
    percent = view_task(meta).body["root"]["percent"]

    assert type(percent) is int
    assert 0 <= percent <= 100


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(0, 0, id="zero"),
        pytest.param(100, 100, id="hundred"),
        pytest.param(42, 42, id="int"),
        pytest.param(42.99, 42, id="float-rounds-down"),
        pytest.param(0.5, 0, id="below-one"),
        pytest.param(99.9, 99, id="almost-done"),
        pytest.param("17", 17, id="int-string"),
        pytest.param("17.8", 17, id="float-string"),
        pytest.param(True, 1, id="bool-is-a-number"),
        pytest.param(101, 100, id="above-100"),
        pytest.param(-0.5, 0, id="just-negative"),
        pytest.param(-40, 0, id="negative"),
        pytest.param(math.nan, 0, id="nan"),
        pytest.param("nan", 0, id="nan-string"),
        pytest.param(None, 0, id="none"),
        pytest.param("", 0, id="empty-string"),
        pytest.param("half", 0, id="junk-string"),
        pytest.param([50], 0, id="list"),
        pytest.param({"percent": 50}, 0, id="dict"),
        pytest.param(
            math.inf,
            100,
            id="infinity",
        ),
        pytest.param(
            "-inf",
            0,
            id="minus-infinity-string",
        ),
    ],
)
def test_wire_percent(value: Any, expected: int) -> None:
    assert wire_percent(value) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("talk.mp3", True, id="mp3"),
        pytest.param("talk.wav", True, id="wav"),
        pytest.param("talk.flac", True, id="flac"),
        pytest.param("talk.aac", True, id="aac"),
        pytest.param("talk.ogg", True, id="ogg"),
        pytest.param("talk.m4a", True, id="m4a"),
        pytest.param("TALK.WAV", True, id="upper-case"),
        pytest.param("talk.Mp3", True, id="mixed-case"),
        pytest.param("my.talk.v2.flac", True, id="dots-in-the-stem"),
        pytest.param("notes.txt", False, id="text"),
        pytest.param("talk.mp4", False, id="video"),
        pytest.param("talk.mp3.txt", False, id="audio-extension-not-last"),
        pytest.param("talk.mp3 ", False, id="trailing-space"),
        pytest.param(".mp3", False, id="dotfile"),
        pytest.param(".WAV", False, id="upper-case-dotfile"),
        pytest.param("mp3", False, id="no-extension"),
        pytest.param("talk.", False, id="empty-extension"),
        pytest.param("", False, id="empty-name"),
    ],
)
def test_is_audio_file(name: str, expected: bool) -> None:
    assert is_audio_file(name) is expected


def test_progress_meta_shape_keeps_extra_fields() -> None:
    assert progress_meta(50, "Transcribing a.mp3 (1 of 2)", current=1, total=2) == {
        "percent": 50,
        "description": "Transcribing a.mp3 (1 of 2)",
        "current": 1,
        "total": 2,
    }


@pytest.mark.parametrize("percent", [0, 0.0, 37.5, 100], ids=["zero", "zero-float", "fraction", "hundred"])
def test_progress_meta_accepts_0_to_100(percent: float) -> None:
    assert progress_meta(percent, "x")["percent"] == percent


@pytest.mark.parametrize(
    "percent",
    [-1, -0.01, 100.01, 101, math.nan, math.inf],
    ids=["minus-one", "just-below-zero", "just-above-100", "above-100", "nan", "infinity"],
)
def test_progress_meta_rejects_percent_outside_0_to_100(percent: float) -> None:
    with pytest.raises(ValueError, match=rf"percent has value {percent!r}"):
        progress_meta(percent, "x")

"""Client events: exact SSE frames, and ids that are the same wherever they are computed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from live_progress.contract import TaskView, view_task
from live_progress.web.engine.events import PENDING_EVENT, TaskEvent, event_for_meta, stream_lost_event
from tests.conftest import ROOT

PROGRESS_META = {
    "status": "PROGRESS",
    "result": {"percent": 25, "description": "Transcribing b.mp3 (2 of 8)", "current": 2, "total": 8},
}
FAILURE_META = {
    "status": "FAILURE",
    "result": {"exc_type": "ValueError", "exc_message": ["boom"], "exc_module": "builtins"},
}


def _celery_bytes(status: str, result: Any) -> bytes:
    """A task state as Celery's Redis backend stores and publishes it (kombu's JSON)."""
    meta = {
        "status": status,
        "result": result,
        "traceback": None,
        "children": [],
        "date_done": None,
        "task_id": "0b5c5d3e-7a52-4a43-9d0e-3f5e4c1b2a10",
    }
    return json.dumps(meta).encode()


@pytest.mark.parametrize(
    ("meta", "frame"),
    [
        pytest.param(
            None,
            b"id: 33440190948fc3a4\n"
            b"event: status\n"
            b'data: {"root":{"output_type":"text","title":"status","value":"Task status: PENDING","subtitle":null}}\n'
            b"\n",
            id="pending",
        ),
        pytest.param(
            PROGRESS_META,
            b"id: aad12502c06f5549\n"
            b"event: progress\n"
            b'data: {"root":{"title":"progress","percent":25,"description":"Transcribing b.mp3 (2 of 8)",'
            b'"current":2,"total":8}}\n'
            b"\n",
            id="progress",
        ),
        pytest.param(
            FAILURE_META,
            b"id: 8fc7ccda945336d0\n"
            b"event: error\n"
            b'data: {"root":{"output_type":"text","title":"error","value":"Task failed: boom","subtitle":null}}\n'
            b"\n",
            id="failure",
        ),
    ],
)
def test_frame_is_exact_sse_bytes_with_a_stable_id(meta: dict[str, Any] | None, frame: bytes) -> None:
    # The ids are literals computed once: a change of encoding or hashing would break
    # Last-Event-ID for clients reconnecting across a deploy, so it must show up here.
    assert TaskEvent.from_view(view_task(meta)).frame == frame


def test_event_fields_agree_with_the_view() -> None:
    view = view_task(PROGRESS_META)

    event = TaskEvent.from_view(view)

    assert event.kind == "progress"
    assert event.final is False
    assert json.loads(event.data) == view.body
    assert event.id == "aad12502c06f5549"


def test_final_view_gives_a_final_event() -> None:
    event = TaskEvent.from_view(view_task(FAILURE_META))

    assert (event.kind, event.final) == ("error", True)


def test_same_view_gives_the_same_event_every_time() -> None:
    first = TaskEvent.from_view(view_task(PROGRESS_META))
    again = TaskEvent.from_view(view_task(json.loads(json.dumps(PROGRESS_META))))

    assert again == first


def test_event_id_is_the_same_in_another_process() -> None:
    code = (
        "from live_progress.web.engine.events import TaskEvent\n"
        "from live_progress.contract import view_task\n"
        f"print(TaskEvent.from_view(view_task({PROGRESS_META!r})).id)\n"
    )
    # A different hash seed: nothing per-process may go into the id.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)

    assert out.stdout.strip() == TaskEvent.from_view(view_task(PROGRESS_META)).id


@pytest.mark.parametrize(
    ("one", "other"),
    [
        pytest.param(
            view_task({"status": "PROGRESS", "result": {"percent": 25, "description": "x"}}),
            view_task({"status": "PROGRESS", "result": {"percent": 26, "description": "x"}}),
            id="percent",
        ),
        pytest.param(
            view_task({"status": "PROGRESS", "result": {"percent": 25, "description": "a.mp3"}}),
            view_task({"status": "PROGRESS", "result": {"percent": 25, "description": "b.mp3"}}),
            id="description",
        ),
        pytest.param(
            view_task({"status": "PROGRESS", "result": {"percent": 25, "current": 1}}),
            view_task({"status": "PROGRESS", "result": {"percent": 25, "current": 2}}),
            id="extra-field",
        ),
        pytest.param(
            TaskView("status", {"root": "same"}),
            TaskView("error", {"root": "same"}),
            id="kind-with-the-same-body",
        ),
        pytest.param(view_task(None), view_task(FAILURE_META), id="pending-and-failed"),
    ],
)
def test_different_views_give_different_ids(one: TaskView, other: TaskView) -> None:
    assert TaskEvent.from_view(one).id != TaskEvent.from_view(other).id


def test_newline_in_a_description_stays_in_one_data_line() -> None:
    view = view_task({"status": "PROGRESS", "result": {"percent": 1, "description": "line one\nline two\r\n"}})

    frame = TaskEvent.from_view(view).frame

    lines = frame.split(b"\n")
    assert [line.split(b":", 1)[0] for line in lines] == [b"id", b"event", b"data", b"", b""]
    assert json.loads(lines[2].removeprefix(b"data: "))["root"]["description"] == "line one\nline two\r\n"


def test_nothing_stored_is_the_pending_event() -> None:
    event = event_for_meta(None)

    assert event is PENDING_EVENT
    assert (event.kind, event.final) == ("status", False)


@pytest.mark.parametrize(
    ("raw", "kind", "root"),
    [
        pytest.param(
            _celery_bytes("PROGRESS", {"percent": 42.7, "description": "Transcribing a.mp3 (1 of 2)"}),
            "progress",
            {"title": "progress", "percent": 42, "description": "Transcribing a.mp3 (1 of 2)"},
            id="progress",
        ),
        pytest.param(
            _celery_bytes("STARTED", {"pid": 17, "hostname": "celery@w1"}),
            "progress",
            {"title": "progress", "percent": 0, "description": ""},
            id="started",
        ),
        pytest.param(
            _celery_bytes("SUCCESS", {"output_type": "batchtext", "texts": []}),
            "result",
            {"output_type": "batchtext", "texts": []},
            id="success",
        ),
        pytest.param(
            _celery_bytes("REVOKED", {"exc_type": "TaskRevokedError", "exc_message": [], "exc_module": "celery"}),
            "error",
            {"output_type": "text", "title": "error", "value": "Task cancelled", "subtitle": None},
            id="revoked",
        ),
    ],
)
def test_event_for_celery_meta(raw: bytes, kind: str, root: dict[str, Any]) -> None:
    event = event_for_meta(raw)

    assert event.kind == kind
    assert json.loads(event.data) == {"root": root}


UNREADABLE = {
    "output_type": "text",
    "title": "error",
    "value": "Task failed: the task's stored state is unreadable",
    "subtitle": None,
}


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\xff\xfe\x00garbage", id="binary"),
        pytest.param(b'{"status": "PROGRESS", "result": {', id="truncated-json"),
        pytest.param(b"", id="empty"),
        pytest.param(
            b'["PROGRESS"]',
            id="json-array",
        ),
        pytest.param(
            b'"PROGRESS"',
            id="json-string",
        ),
    ],
)
def test_unreadable_meta_is_a_failed_event_not_an_exception(raw: bytes) -> None:
    event = event_for_meta(raw)

    assert (event.kind, event.final) == ("error", True)
    assert json.loads(event.data) == {"root": UNREADABLE}


def test_nan_percent_written_by_celery_is_progress_at_zero() -> None:
    event = event_for_meta(_celery_bytes("PROGRESS", {"percent": float("nan"), "description": "x"}))

    assert (event.kind, event.final) == ("progress", False)
    assert json.loads(event.data)["root"]["percent"] == 0


def test_stream_lost_event_is_final_and_has_no_id() -> None:
    event = stream_lost_event("Lost the connection to Redis")

    assert (event.kind, event.final, event.id) == ("error", True, None)
    assert event.frame == (
        b'event: error\ndata: {"error":"Lost the connection to Redis; reconnect to resume","reconnect":true}\n\n'
    )
    assert event.frame == b"event: error\ndata: " + event.data + b"\n\n"

"""Bad requests get a 4xx JSON error that names the problem; never a 500, never a traceback."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
import pytest


@pytest.fixture(scope="module")
def escapes(audio_root: Path) -> Path:
    """Symlinks inside ALLOWED_ROOTS: one leading out of it, one staying in."""
    links = audio_root / "links"
    links.mkdir(exist_ok=True)
    if not (links / "out").exists():
        (links / "out").symlink_to("/etc")
        (links / "in").symlink_to(audio_root / "batch")
    return links


def body(path: object) -> dict[str, object]:
    return {"inputs": {"input_dir": {"path": path}}}


# (id, method, url, json body or raw bytes, expected status, words the error must contain)
CASES: list[tuple[str, str, str, object, int, str]] = [
    ("malformed-json", "POST", "/audio/transcribe", b"{not json", 400, "not valid JSON"),
    ("empty-body", "POST", "/audio/transcribe", b"", 400, "empty"),
    ("json-array", "POST", "/audio/transcribe", b"[]", 422, "body: [] is not a valid dictionary"),
    ("json-string", "POST", "/audio/transcribe", b'"/tmp"', 422, "body"),
    ("json-null", "POST", "/audio/transcribe", b"null", 422, "body"),
    ("missing-inputs", "POST", "/audio/transcribe", {}, 422, "inputs: missing; this field is required"),
    ("inputs-not-object", "POST", "/audio/transcribe", {"inputs": 5}, 422, "inputs"),
    ("missing-input-dir", "POST", "/audio/transcribe", {"inputs": {}}, 422, "inputs.input_dir"),
    ("input-dir-a-string", "POST", "/audio/transcribe", {"inputs": {"input_dir": "/x"}}, 422, "inputs.input_dir"),
    ("missing-path", "POST", "/audio/transcribe", {"inputs": {"input_dir": {}}}, 422, "inputs.input_dir.path"),
    ("path-a-number", "POST", "/audio/transcribe", body(5), 422, "inputs.input_dir.path: 5 is not a valid string"),
    ("path-null", "POST", "/audio/transcribe", body(None), 422, "inputs.input_dir.path"),
    ("path-a-list", "POST", "/audio/transcribe", body(["/a"]), 422, "inputs.input_dir.path"),
    ("unknown-field", "POST", "/audio/transcribe", {**body("/a"), "bogus": 1}, 422, "bogus: no such field (sent 1)"),
    ("parameters-a-list", "POST", "/audio/transcribe", {**body("/a"), "parameters": []}, 422, "parameters"),
    ("relative-path", "POST", "/audio/transcribe", body("batch"), 422, "absolute"),
    ("empty-path", "POST", "/audio/transcribe", body(""), 422, "empty"),
    ("blank-path", "POST", "/audio/transcribe", body("   "), 422, "empty"),
    ("nul-byte", "POST", "/audio/transcribe", body("{root}/batch\x00/etc"), 422, "NUL"),
    ("dotdot-escape", "POST", "/audio/transcribe", body("{root}/batch/../../../etc"), 403, "outside"),
    ("symlink-escape", "POST", "/audio/transcribe", body("{root}/links/out"), 403, "outside"),
    ("outside-roots", "POST", "/audio/transcribe", body("/usr/share"), 403, "ALLOWED_ROOTS"),
    ("a-file", "POST", "/audio/transcribe", body("{root}/batch/weather.mp3"), 422, "not a folder"),
    ("missing-folder", "POST", "/audio/transcribe", body("{root}/nowhere"), 422, "does not exist"),
    ("no-audio", "POST", "/audio/transcribe", body("{root}/no_audio"), 422, "no audio file"),
    ("name-too-long", "POST", "/audio/transcribe", body("{root}/" + "x" * 5000), 422, "inputs.input_dir.path"),
    ("too-large", "POST", "/audio/transcribe", body("/" + "a" * 70_000), 413, "larger than the limit"),
    ("put", "PUT", "/audio/transcribe", body("/a"), 405, "PUT"),
    ("get-submit", "GET", "/audio/transcribe", None, 405, "GET"),
    ("malformed-id-result", "GET", "/audio/transcribe/result/123", None, 400, "'123'; it is not a task id"),
    ("slashes-in-id", "GET", "/audio/transcribe/events/..%2F..%2Fetc", None, 404, "No route"),
    ("malformed-id-events", "GET", "/audio/transcribe/events/0000-1111", None, 400, "not a task id"),
    ("malformed-id-delete", "DELETE", "/audio/transcribe/DROP TABLE", None, 400, "not a task id"),
    ("uppercase-id", "GET", f"/audio/transcribe/result/{str(uuid.uuid4()).upper()}", None, 400, "not a task id"),
    ("long-malformed-id", "GET", "/audio/transcribe/result/" + "x" * 5000, None, 400, "xx…; it is not a task id"),
    ("set-malformed-id", "GET", "/audio/transcribe/events?task_id=not-a-task", None, 400, "'not-a-task'; it is not"),
    ("set-empty-id", "GET", "/audio/transcribe/events?task_id=", None, 400, "task_id has value ''"),
    ("set-no-id", "GET", "/audio/transcribe/events", None, 400, "task_id: give at least one"),
    (
        "set-too-many-ids",
        "GET",
        "/audio/transcribe/events?" + "&".join(f"task_id={uuid.uuid4()}" for _ in range(101)),
        None,
        400,
        "at most 100 (MAX_TASKS_PER_STREAM)",
    ),
    (
        "set-bad-cursor",
        "GET",
        f"/audio/transcribe/events?task_id={uuid.uuid4()}&last_event_id=2.!",
        None,
        400,
        "last_event_id has value '2.!'",
    ),
    ("unknown-id-result", "GET", f"/audio/transcribe/result/{uuid.uuid4()}", None, 404, "No task"),
    ("unknown-id-events", "GET", f"/audio/transcribe/events/{uuid.uuid4()}", None, 404, "No task"),
    ("unknown-id-delete", "DELETE", f"/audio/transcribe/{uuid.uuid4()}", None, 404, "No task"),
    ("unknown-route", "GET", "/audio/translate", None, 404, "No route"),
]


def fill(value: object, root: Path) -> object:
    if isinstance(value, str):
        return value.replace("{root}", str(root))
    if isinstance(value, dict):
        return {k: fill(v, root) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("method", "url", "payload", "status", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_bad_request_gets_a_json_error_naming_the_problem(
    client: httpx.AsyncClient,
    audio_root: Path,
    escapes: Path,
    method: str,
    url: str,
    payload: object,
    status: int,
    words: str,
) -> None:
    if isinstance(payload, bytes):
        response = await client.request(method, url, content=payload, headers={"Content-Type": "application/json"})
    elif payload is None:
        response = await client.request(method, url)
    else:
        response = await client.request(method, url, json=fill(payload, audio_root))

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert words in error
    assert "Traceback" not in error


async def test_a_symlink_that_stays_inside_is_accepted(client: httpx.AsyncClient, escapes: Path) -> None:
    response = await client.post("/audio/transcribe", json=body(str(escapes / "in")))
    assert response.status_code == 202
    await client.delete(f"/audio/transcribe/{response.json()['task_id']}")


async def test_the_service_stays_healthy_after_bad_requests(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await client.post("/audio/transcribe", content=os.urandom(512), headers={"Content-Type": "application/json"})
    assert (await client.get("/healthz")).json()["status"] == "ok"


def test_there_are_at_least_25_cases() -> None:
    assert len(CASES) >= 25

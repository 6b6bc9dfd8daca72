"""RescueBox discovery and the second async endpoint, against the real service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.clients import percents, read_events

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(service: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service, timeout=httpx.Timeout(30, read=90)) as client:
        yield client


async def test_routes_list_each_task_with_its_schema_and_endpoint(client: httpx.AsyncClient) -> None:
    routes = (await client.get("/audio/api/routes")).json()
    assert routes == [
        {
            "task_schema": "/audio/transcribe/task_schema",
            "run_task": "/audio/transcribe",
            "short_title": "Transcribe audio",
            "order": 0,
        },
        {
            "task_schema": "/audio/inspect/task_schema",
            "run_task": "/audio/inspect",
            "short_title": "Inspect audio files",
            "order": 1,
        },
    ]


@pytest.mark.parametrize(
    ("task", "parameters"),
    [("transcribe", ["formats", "language", "mode", "vad", "word_timestamps"]), ("inspect", [])],
)
async def test_task_schema_asks_for_a_directory(client: httpx.AsyncClient, task: str, parameters: list[str]) -> None:
    schema = (await client.get(f"/audio/{task}/task_schema")).json()
    assert schema["inputs"] == [
        {"key": "input_dir", "label": "Folder of audio files", "subtitle": "", "input_type": "directory"}
    ]
    assert [parameter["key"] for parameter in schema["parameters"]] == parameters


async def test_app_metadata_has_rescuebox_fields(client: httpx.AsyncClient) -> None:
    metadata = (await client.get("/audio/api/app_metadata")).json()
    assert set(metadata) == {"info", "author", "version", "name", "plugin_name", "gpu"}
    assert metadata["plugin_name"] == "audio"
    assert metadata["gpu"] is False
    assert metadata["name"] == "Audio transcription"
    assert "faster-whisper" in metadata["info"]
    assert metadata["version"][0].isdigit()


async def test_a_rescuebox_client_discovers_and_runs_inspect(client: httpx.AsyncClient, audio_root: Path) -> None:
    """Discover, read the schema, fill its inputs, run the task, follow it to the result."""
    route = next(r for r in (await client.get("/audio/api/routes")).json() if r["short_title"] == "Inspect audio files")
    schema = (await client.get(route["task_schema"])).json()
    inputs = {spec["key"]: {"path": str(audio_root / "batch")} for spec in schema["inputs"]}
    submitted = await client.post(route["run_task"], json={"inputs": inputs, "parameters": {}})
    assert submitted.status_code == 202
    task = submitted.json()
    assert task["events_url"] == f"/audio/inspect/events/{task['task_id']}"

    events = await read_events(client, task["events_url"])
    assert events[-1].event == "result"
    assert percents(events) == sorted(percents(events))
    result = events[-1].data["root"]
    files = {Path(f["path"]).name: f for f in result["files"]}
    assert set(files) == {"train.WAV", "weather.mp3", "cooking.flac"}
    assert files["weather.mp3"]["duration_seconds"] == pytest.approx(5.16, abs=0.2)
    assert {f["sample_rate"] for f in files.values()} == {16000}
    assert {f["channels"] for f in files.values()} == {1}
    assert files["weather.mp3"]["codec"] == "MP3 (MPEG audio layer 3)"
    assert {f["format"] for f in files.values()} == {"wav", "mp3", "flac"}
    assert [t["value"] for t in result["texts"]][1] == "5.2 s, 16000 Hz, 1 channel, MP3 (MPEG audio layer 3)"
    assert result["total_duration_seconds"] == pytest.approx(16.6, abs=0.5)


async def test_inspect_reports_an_unreadable_file_without_failing(client: httpx.AsyncClient, audio_root: Path) -> None:
    body = {"inputs": {"input_dir": {"path": str(audio_root / "with_corrupt")}}}
    task = (await client.post("/audio/inspect", json=body)).json()
    events = await read_events(client, task["events_url"])
    texts = {Path(t["title"]).name: t for t in events[-1].data["root"]["texts"]}
    assert texts["broken.mp3"]["subtitle"] == "error"
    assert texts["good.ogg"]["value"].endswith("Vorbis")


async def test_an_inspect_id_is_unknown_to_transcribe(client: httpx.AsyncClient, audio_root: Path) -> None:
    body = {"inputs": {"input_dir": {"path": str(audio_root / "batch")}}}
    task = (await client.post("/audio/inspect", json=body)).json()
    assert (await client.get(f"/audio/transcribe/result/{task['task_id']}")).status_code == 404
    await read_events(client, task["events_url"])

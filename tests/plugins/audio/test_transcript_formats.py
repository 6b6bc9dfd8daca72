"""Transcript formats and modes on the real model, through the service, and their downloads."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from live_progress.plugins.audio.worker.model import load_model
from live_progress.plugins.audio.worker.options import TranscribeOptions
from live_progress.plugins.audio.worker.transcription import whisper_segments
from tests.conftest import DATA
from tests.support.clients import read_events

pytestmark = pytest.mark.integration

_SRT_TIME = r"(\d\d):(\d\d):(\d\d),(\d\d\d)"
_VTT_TIME = r"(?:(\d\d):)?(\d\d):(\d\d)\.(\d\d\d)"


@pytest.fixture
async def client(service: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service, timeout=httpx.Timeout(30, read=120)) as client:
        yield client


async def transcribe(client: httpx.AsyncClient, folder: Path, parameters: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    response = await client.post(
        "/audio/transcribe", json={"inputs": {"input_dir": {"path": str(folder)}}, "parameters": parameters}
    )
    assert response.status_code == 202, response.text
    submitted = response.json()
    events = await read_events(client, submitted["events_url"])
    assert events[-1].event == "result", events[-1]
    return submitted["task_id"], events[-1].data["root"]


def _seconds(match: tuple[str | None, ...]) -> float:
    hours, minutes, seconds, millis = (int(part or 0) for part in match)
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def cue_times(text: str, pattern: str) -> list[tuple[float, float]]:
    found = re.findall(rf"^{pattern} --> {pattern}$", text, re.M)
    return [(_seconds(m[: len(m) // 2]), _seconds(m[len(m) // 2 :])) for m in found]


def assert_increasing(times: list[tuple[float, float]]) -> None:
    assert times, "no cues"
    for start, end in times:
        assert 0 <= start <= end
    starts = [start for start, _ in times]
    assert starts == sorted(starts) and len(set(starts)) == len(starts), times


@pytest.fixture(scope="module")
def long_folder(tmp_path_factory: pytest.TempPathFactory, audio_root: Path) -> Path:
    folder = audio_root / "formats"
    folder.mkdir(exist_ok=True)
    shutil.copy(DATA / "long" / "story.mp3", folder / "story.mp3")
    (folder / "sub").mkdir(exist_ok=True)
    shutil.copy(DATA / "batch" / "weather.mp3", folder / "sub" / "weather.mp3")
    return folder


async def test_every_format_is_written_parses_and_its_times_increase(
    client: httpx.AsyncClient, long_folder: Path
) -> None:
    task_id, result = await transcribe(
        client, long_folder, {"formats": ["txt", "srt", "vtt", "tsv", "json"], "word_timestamps": True}
    )

    story = next(t for t in result["texts"] if t["title"].endswith("story.mp3"))
    assert [f["format"] for f in story["files"]] == ["txt", "srt", "vtt", "tsv", "json"]
    assert [f["name"] for f in story["files"]] == [f"story.{ext}" for ext in ("txt", "srt", "vtt", "tsv", "json")]
    weather = next(t for t in result["texts"] if t["title"].endswith("weather.mp3"))
    assert weather["files"][1]["name"] == "sub/weather.srt"

    async def download(name: str) -> str:
        response = await client.get(f"/audio/transcribe/files/{task_id}", params={"name": name})
        assert response.status_code == 200, response.text
        assert "attachment" in response.headers["content-disposition"]
        folder = Path(result["transcripts_dir"])
        assert response.text == (folder / name).read_text(encoding="utf-8")
        return response.text

    assert (await download("story.txt")).strip() == story["value"]

    srt = await download("story.srt")
    assert_increasing(cue_times(srt, _SRT_TIME))
    assert re.match(r"1\n00:00:\d\d,\d\d\d --> ", srt)

    vtt = await download("story.vtt")
    assert vtt.startswith("WEBVTT\n")
    assert_increasing(cue_times(vtt, _VTT_TIME))

    rows = list(csv.reader(io.StringIO(await download("story.tsv")), delimiter="\t"))
    assert rows[0] == ["start", "end", "text"]
    assert_increasing([(int(start) / 1000, int(end) / 1000) for start, end, _ in rows[1:]])

    transcript = json.loads(await download("story.json"))
    segments = transcript["segments"]
    assert_increasing([(s["start"], s["end"]) for s in segments])
    assert " ".join(s["text"] for s in segments) == story["value"]
    assert len(segments) == len(cue_times(srt, _SRT_TIME)) == len(rows) - 1
    words = [w for s in segments for w in s["words"]]
    assert words and all(w["start"] <= w["end"] for w in words)

    assert "weather" in (await download("sub/weather.srt")).lower()


async def test_only_files_the_result_lists_can_be_downloaded(client: httpx.AsyncClient, long_folder: Path) -> None:
    task_id, result = await transcribe(client, long_folder, {"formats": ["srt"]})
    folder = Path(result["transcripts_dir"])
    assert (folder / "story.srt").exists()

    for name in ["story.txt", "../story.mp3", "/etc/passwd", "sub/../story.srt", str(folder / "story.srt"), "x"]:
        response = await client.get(f"/audio/transcribe/files/{task_id}", params={"name": name})
        assert response.status_code == 404, (name, response.text)
        assert "error" in response.json()
    no_name = await client.get(f"/audio/transcribe/files/{task_id}")
    assert no_name.status_code == 400
    unknown = await client.get("/audio/transcribe/files/00000000-0000-4000-8000-000000000000", params={"name": "x"})
    assert unknown.status_code == 404


async def test_a_listed_file_that_now_leads_outside_its_folder_is_not_served(
    client: httpx.AsyncClient, long_folder: Path, tmp_path: Path
) -> None:
    task_id, result = await transcribe(client, long_folder, {"formats": ["vtt"]})
    listed = Path(result["transcripts_dir"]) / "story.vtt"
    secret = tmp_path / "secret.txt"
    secret.write_text("not a transcript\n")
    listed.unlink()
    listed.symlink_to(secret)

    response = await client.get(f"/audio/transcribe/files/{task_id}", params={"name": "story.vtt"})

    assert response.status_code == 404
    assert "not in its folder" in response.json()["error"]


async def test_fast_mode_transcribes_the_long_clip(client: httpx.AsyncClient, audio_root: Path) -> None:
    _, result = await transcribe(client, audio_root / "long", {"mode": "fast"})

    [story] = result["texts"]
    assert story["subtitle"] is None
    # tiny.en gets most words of the committed story right in either mode (tests/data/README.md).
    for word in ("summer", "village", "beach", "storm", "candles", "rain"):
        assert word in story["value"].lower()
    assert [f["name"] for f in story["files"]] == ["story.txt"]


@pytest.mark.parametrize("mode", ["accurate", "fast"])
def test_a_file_resumed_mid_way_gives_segments_on_the_files_clock(mode: str) -> None:
    segments_of = whisper_segments(load_model(), TranscribeOptions(mode=mode, word_timestamps=True))
    story = DATA / "long" / "story.mp3"

    rest = list(segments_of(story, 12.0, "Last summer, my sister and I visited a small village near the sea."))

    assert rest and all(12.0 <= s.start <= s.end <= 27.5 for s in rest), [(s.start, s.end) for s in rest]
    assert all(w.start >= 12.0 for s in rest for w in s.words or ())
    assert "storm" in " ".join(s.text for s in rest).lower()

"""The parameters of POST /audio/transcribe, in-process (httpx ASGITransport) against a real Redis."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from live_progress.launch.redis_server import RedisServer
from tests.support.inprocess import serve, web_settings

PARAMETERS = ["formats", "language", "mode", "vad", "word_timestamps"]


@pytest.fixture(scope="module")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.database_url(19)


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
async def client(redis_url: str, audio_root: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(web_settings(redis_url, audio_root)) as client:
        yield client


async def post(client: httpx.AsyncClient, audio_root: Path, parameters: Any) -> httpx.Response:
    body = {"inputs": {"input_dir": {"path": str(audio_root / "batch")}}, "parameters": parameters}
    return await client.post("/audio/transcribe", json=body)


@pytest.mark.parametrize(
    ("parameters", "names"),
    [
        ({"speed": "fast"}, "parameters.speed: no such field (sent 'fast'); allowed: formats, language, mode, vad"),
        ({"formats": ["srt", "docx"]}, "parameters.formats[1]: 'docx' is not one of txt, srt, vtt, tsv, json"),
        ({"formats": []}, "parameters.formats: got []; give at least one of txt"),
        ({"formats": "srt, pdf"}, "parameters.formats[1]: 'pdf' is not one of txt, srt, vtt, tsv, json"),
        ({"formats": {"srt": True}}, "parameters.formats: {'srt': True} is not a valid list"),
        ({"language": 5}, "parameters.language: 5 is not a valid string"),
        ({"language": "fr"}, "parameters.language has value 'fr'"),
        ({"language": "klingon"}, "'klingon'"),
        ({"mode": "fastest"}, "parameters.mode: 'fastest' is not one of accurate, fast"),
        ({"mode": 1}, "parameters.mode: 1 is not one of accurate, fast"),
        ({"vad": "yes"}, "parameters.vad: 'yes' is not a valid boolean"),
        ({"vad": 1}, "parameters.vad: 1 is not a valid boolean"),
        ({"word_timestamps": None}, "parameters.word_timestamps: None is not a valid boolean"),
        ([], "parameters: [] is not a valid dictionary"),
    ],
    ids=lambda value: json.dumps(value) if isinstance(value, dict | list) else None,
)
async def test_bad_parameters_are_422_naming_them(
    client: httpx.AsyncClient, audio_root: Path, parameters: Any, names: str
) -> None:
    response = await post(client, audio_root, parameters)

    assert response.status_code == 422, response.text
    assert names in response.json()["error"]


def sent_kwargs(redis: Redis) -> list[dict[str, Any]]:
    """The keyword arguments of the task messages waiting in the broker (no worker takes them)."""
    messages = [json.loads(raw) for raw in redis.lrange("celery", 0, -1)]
    return [json.loads(base64.b64decode(m["body"]))[1] for m in reversed(messages)]


@pytest.mark.parametrize(
    ("parameters", "kwargs"),
    [
        ({}, {}),
        ({"formats": ["txt"], "language": "auto", "mode": "accurate", "vad": False}, {}),
        ({"language": "EN"}, {"language": "en"}),
        ({"formats": ["srt", "json", "srt"], "mode": "fast"}, {"formats": ["srt", "json"], "mode": "fast"}),
        # What a RescueBox client sends for a text and two enum parameters.
        ({"formats": "srt, vtt", "vad": "true", "word_timestamps": "false"}, {"formats": ["srt", "vtt"], "vad": True}),
    ],
)
async def test_good_parameters_reach_the_task_when_not_the_default(
    client: httpx.AsyncClient, redis: Redis, audio_root: Path, parameters: dict[str, Any], kwargs: dict[str, Any]
) -> None:
    response = await post(client, audio_root, parameters)

    assert response.status_code == 202, response.text
    assert sent_kwargs(redis) == [{"input_dir": str((audio_root / "batch").resolve()), **kwargs}]


async def test_task_schema_lists_each_parameter_in_rescuebox_shapes(client: httpx.AsyncClient) -> None:
    response = await client.get("/audio/transcribe/task_schema")

    parameters = response.json()["parameters"]
    assert [p["key"] for p in parameters] == PARAMETERS
    for parameter in parameters:
        assert parameter["label"] and isinstance(parameter["subtitle"], str)
        descriptor = parameter["value"]
        assert descriptor["parameter_type"] in {"text", "enum"}
        if descriptor["parameter_type"] == "enum":
            assert descriptor["default"] in [v["key"] for v in descriptor["enum_vals"]]
    by_key = {p["key"]: p["value"] for p in parameters}
    assert by_key["formats"]["default"] == "txt"
    assert [v["key"] for v in by_key["mode"]["enum_vals"]] == ["accurate", "fast"]
    assert by_key["mode"]["default"] == "accurate"


async def test_a_refused_parameter_is_detailed_per_field(client: httpx.AsyncClient, audio_root: Path) -> None:
    response = await post(client, audio_root, {"formats": ["docx"], "vad": "yes"})

    assert response.status_code == 422
    assert response.json() == {
        "error": "parameters.formats[0]: 'docx' is not one of txt, srt, vtt, tsv, json; "
        "parameters.vad: 'yes' is not a valid boolean",
        "fields": [
            {
                "field": "parameters.formats[0]",
                "message": "'docx' is not one of txt, srt, vtt, tsv, json",
                "value": "docx",
                "allowed": ["txt", "srt", "vtt", "tsv", "json"],
            },
            {"field": "parameters.vad", "message": "'yes' is not a valid boolean", "value": "yes"},
        ],
    }

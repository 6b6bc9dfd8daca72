"""Routing, errors and auth, handled in-process: what needs no worker, no model and no uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from live_progress.web.settings import Settings
from tests.support.eventually import eventually
from tests.support.inprocess import serve

TOKEN = "s3cret-token"


def submission(audio_root: Path) -> dict[str, object]:
    return {"inputs": {"input_dir": {"path": str(audio_root / "batch")}}}


async def test_healthz_and_page(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    page = await client.get("/")
    assert page.status_code == 200
    assert "<progress" in page.text


async def test_the_subscription_comes_up(client: httpx.AsyncClient) -> None:
    async def subscribed() -> bool:
        return bool((await client.get("/healthz")).json()["subscribed"])

    await eventually(subscribed, what="the hub's subscription")


async def test_unknown_route_and_wrong_method_are_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    assert missing.status_code == 404 and "/nowhere" in missing.json()["error"]
    wrong = await client.get("/audio/transcribe")
    assert wrong.status_code == 405 and "GET" in wrong.json()["error"]


async def test_a_submitted_task_is_pending_until_a_worker_takes_it(client: httpx.AsyncClient, audio_root: Path) -> None:
    submitted = await client.post("/audio/transcribe", json=submission(audio_root))

    assert submitted.status_code == 202
    task = submitted.json()
    assert submitted.headers["location"] == task["result_url"]
    assert (await client.get(task["result_url"])).json()["root"]["value"] == "Task status: PENDING"
    assert (await client.delete(f"/audio/transcribe/{task['task_id']}")).status_code == 202
    assert (await client.get(task["result_url"])).json()["root"]["value"] == "Task cancelled"


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings.model_copy(update={"api_token": TOKEN})) as client:
        yield client


async def test_healthz_needs_no_token(guarded: httpx.AsyncClient) -> None:
    assert (await guarded.get("/healthz")).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
async def test_api_without_the_token_is_401_json(
    guarded: httpx.AsyncClient, audio_root: Path, headers: dict[str, str]
) -> None:
    response = await guarded.post("/audio/transcribe", json=submission(audio_root), headers=headers)
    assert response.status_code == 401
    assert "API token" in response.json()["error"]
    assert response.headers["www-authenticate"] == "Bearer"


async def test_the_token_opens_the_api(guarded: httpx.AsyncClient, audio_root: Path) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    task = (await guarded.post("/audio/transcribe", json=submission(audio_root), headers=bearer)).json()

    assert (await guarded.get(task["result_url"])).status_code == 401
    assert (await guarded.get(task["result_url"], headers=bearer)).json()["root"]["title"] == "status"
    assert (await guarded.delete(f"/audio/transcribe/{task['task_id']}", headers=bearer)).status_code == 202


@pytest.mark.parametrize(("origin", "allowed"), [("https://allowed.example", True), ("https://evil.example", False)])
async def test_cors_answers_only_configured_origins(settings: Settings, origin: str, allowed: bool) -> None:
    async with serve(settings.model_copy(update={"cors_origins": ("https://allowed.example",)})) as client:
        preflight = await client.options(
            "/audio/transcribe",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
    assert (preflight.headers.get("access-control-allow-origin") == origin) is allowed


async def test_cors_is_closed_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Origin": "https://allowed.example"})
    assert "access-control-allow-origin" not in response.headers

"""Log lines: each names its task; LOG_FORMAT=json makes every line a JSON object."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from live_progress.launch.processes import start_web
from live_progress.launch.redis_server import RedisServer
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.integration


def test_json_log_lines_name_the_task(redis_server: RedisServer, service_env: dict[str, str], audio_root: Path) -> None:
    env = {**service_env, "REDIS_URL": redis_server.database_url(9), "LOG_FORMAT": "json"}
    web, base_url = start_web(env, ARTIFACTS, name="web-json-logs")
    try:
        body = {"inputs": {"input_dir": {"path": str(audio_root / "batch")}}}
        task = httpx.post(f"{base_url}/audio/transcribe", json=body).json()
        assert httpx.delete(f"{base_url}/audio/transcribe/{task['task_id']}").status_code == 202
    finally:
        web.stop()
    lines = [json.loads(line) for line in web.log().splitlines() if line.strip()]
    assert lines, "the web process logged nothing"
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    about_task = [line for line in lines if line.get("task_id") == task["task_id"]]
    assert any(line["message"].startswith("Submitted audio.transcribe") for line in about_task)
    assert any(line["message"].startswith("Cancelling audio.transcribe") for line in about_task)

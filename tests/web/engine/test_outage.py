"""A web process whose Redis goes away and comes back: 503s meanwhile, then it works again."""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from live_progress.launch.processes import start_web, start_worker, wait_for
from live_progress.launch.redis_server import RedisServer
from tests.conftest import ARTIFACTS, DATA

pytestmark = pytest.mark.integration


def test_redis_outage_answers_503_json_and_the_service_recovers_by_itself(tmp_path: Path) -> None:
    shutil.copy(DATA / "batch" / "weather.mp3", tmp_path)
    body = {"inputs": {"input_dir": {"path": str(tmp_path)}}}
    with RedisServer() as redis:
        env = {**os.environ, "REDIS_URL": redis.url, "ALLOWED_ROOTS": str(tmp_path)}
        web, base_url = start_web(env, ARTIFACTS, name="web-outage")
        worker = None
        try:
            with httpx.Client(base_url=base_url, timeout=10) as client:
                task = client.post("/audio/transcribe", json=body).json()
                with client.stream("GET", task["events_url"]) as stream:
                    lines = stream.iter_lines()
                    assert next(line for line in lines if line.startswith("event:")) == "event: status"
                    redis.stop()
                    # The server ends the stream by itself (never hanging on, pinged): read in a
                    # thread, so that a stream that never ends fails the test at the deadline.
                    rest: list[str] = []
                    ended = threading.Event()
                    failed: list[Exception] = []

                    def read_rest() -> None:
                        try:
                            rest.extend(lines)
                        except httpx.TransportError as exc:  # silent for the client's read timeout
                            failed.append(exc)
                        finally:
                            ended.set()

                    threading.Thread(target=read_rest, daemon=True).start()
                    ended.wait(60)
                    assert ended.is_set() and not failed, f"the stream did not end when Redis stopped: {failed}"
                error_data = rest[rest.index("event: error") + 1]
                assert json.loads(error_data.removeprefix("data:"))["reconnect"] is True

                for method, url in [
                    ("GET", "/healthz"),
                    ("POST", "/audio/transcribe"),
                    ("GET", task["result_url"]),
                    ("GET", task["events_url"]),
                    ("GET", f"/audio/transcribe/result/{uuid.uuid4()}"),
                    ("DELETE", f"/audio/transcribe/{task['task_id']}"),
                ]:
                    response = client.request(method, url, json=body if method == "POST" else None)
                    assert response.status_code == 503, (method, url, response.text)
                    assert "Redis" in response.json()["error"]
                assert web.alive()

                redis.start()

                def recovered() -> bool:
                    health = client.get("/healthz")
                    return health.status_code == 200 and health.json()["subscribed"]

                wait_for(recovered, 20, "the web process to reconnect")
                # The earlier task's id was in the Redis that restarted empty: now unknown.
                assert client.get(task["result_url"]).status_code == 404
                again = client.post("/audio/transcribe", json=body)
                assert again.status_code == 202
                pending = client.get(again.json()["result_url"]).json()
                assert pending["root"]["value"] == "Task status: PENDING"

                # A new job after the outage streams to its result.
                worker = start_worker(env, ARTIFACTS, name="worker-outage")
                with client.stream("GET", again.json()["events_url"], timeout=120) as stream:
                    kinds = [line for line in stream.iter_lines() if line.startswith("event:")]
                assert kinds[-1] == "event: result"
        finally:
            if worker is not None:
                worker.stop()
            web.stop()

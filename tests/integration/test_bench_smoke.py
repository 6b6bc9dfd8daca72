"""bench.fanout's core at a tiny size against the real service, so the benchmark does not rot."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from bench.scenario import Load, run_watch
from bench.servers import start_uvicorn
from bench.writer import commands_per_write, issue_tasks
from launch.redis_server import RedisServer

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).resolve().parents[2] / "tests" / "artifacts"


async def test_fanout_benchmark_delivers_every_event(redis_server: RedisServer, service_env: dict[str, str]) -> None:
    writer_commands = commands_per_write(redis_server.url, samples=5)
    assert writer_commands["publish"] == 1
    web, port = start_uvicorn(
        "web-bench-smoke", "app.main:create_app", service_env, ARTIFACTS, "/healthz", b'"subscribed":true'
    )
    try:
        load = Load(watchers=20, tasks=3, writes_per_task=3, rate=50, connect_window=20)
        task_ids = issue_tasks(redis_server.url, load.tasks, 600)
        result = await run_watch(
            "smoke", load, port, web.popen.pid, redis_server.url, task_ids,
            lambda task_id: f"/audio/transcribe/events/{task_id}", writer_commands,
        )  # fmt: skip
    finally:
        web.stop()
    assert result.errors == {}
    assert result.opened == 20
    assert (result.delivered, result.expected) == (60, 60)
    assert result.ended_early == 0
    assert all(math.isfinite(value) and value >= 0 for value in (*result.latency_ms, *result.first_event_ms))
    assert result.web_cpu_seconds >= 0 and result.window_seconds > 0
    assert isinstance(result.web_commands, Counter)

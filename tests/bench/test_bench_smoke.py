"""bench.fanout's core at a tiny size, and bench.soak's quick mode, against the real service, so the
benchmarks do not rot."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from bench import soak
from bench.scenario import Load, run_watch
from bench.servers import PROCFILE_FACTORY, WebSpec, start_uvicorn
from bench.soak import parse_args
from bench.writer import commands_per_write, issue_tasks
from live_progress.launch.redis_server import RedisServer
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.integration


async def test_fanout_benchmark_delivers_every_event(redis_server: RedisServer, service_env: dict[str, str]) -> None:
    writer_commands = commands_per_write(redis_server.url, samples=5)
    assert writer_commands["publish"] == 1
    web, port = start_uvicorn(
        WebSpec(
            "web-bench-smoke",
            PROCFILE_FACTORY,
            service_env,
            ARTIFACTS,
            "/healthz",
            b'"subscribed":true',
        )
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


async def test_soak_quick_keeps_every_stream_fed() -> None:
    """bench.soak --quick (2 minutes, 200 streams that come and go) against the real service."""
    args = parse_args(["--quick"])
    lines: list[str] = []
    rows = await soak.run(args, lines.append)
    assert [row.minute for row in rows] == [0.5, 1, 1.5, 2]
    for row in rows:
        assert row.reopened > 0 and row.not_reopened == 0 and row.ended_early == 0
        # Streams being reopened when the row is read are not open yet.
        assert row.open_streams is not None
        assert args.streams - 2 * args.churn * args.streams <= row.open_streams <= args.streams
        assert row.delivered >= 0.9  # streams being reopened miss what is written meanwhile
        assert math.isfinite(row.cpu_per_event_us) and row.rss > 0
        assert all(math.isfinite(value) for value in (*row.latency_ms, *row.first_event_ms))
        assert len(row.delta.gc_collections) == 3  # the web's /metrics serves Python's GC figures
    assert len(lines) == 1 + 1 + len(soak.HEADER) + len(rows)
    assert len(soak.verdict(rows)) == 2

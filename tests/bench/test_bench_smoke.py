"""bench.fanout's core at a tiny size, and bench.soak's quick mode, against the real service, so the
benchmarks do not rot; each draws its plot from what it measured (into tmp_path, never docs/)."""

from __future__ import annotations

import dataclasses
import math
import struct
from collections import Counter
from pathlib import Path

import pytest

from bench import ROOT, fanout, soak
from bench.scenario import Load, run_watch
from bench.servers import PROCFILE_FACTORY, WebSpec, start_uvicorn
from bench.soak import parse_args
from bench.writer import commands_per_write, issue_tasks
from live_progress.launch.redis_server import RedisServer
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.integration


def png_size(path: Path) -> tuple[int, int]:
    """Width and height in pixels, from the PNG's header chunk (IHDR)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def lines_of(axis) -> dict[str, tuple[list[float], list[float]]]:
    """What an axis of a drawn figure plots, by label: x and y."""
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in axis.get_lines()}


def test_plots_go_to_docs_unless_quick() -> None:
    assert soak.parse_args([]).plot == ROOT / "docs" / "soak.png"
    assert fanout.parse_args([]).plot == ROOT / "docs" / "fanout.png"
    assert soak.parse_args(["--quick"]).plot is None and fanout.parse_args(["--quick"]).plot is None


async def test_fanout_benchmark_delivers_every_event(
    redis_server: RedisServer, service_env: dict[str, str], tmp_path: Path
) -> None:
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
    results = []
    try:
        for watchers in (30, 20):  # two points for the plot, the larger first: the plot orders them by streams
            load = Load(watchers=watchers, tasks=3, writes_per_task=3, rate=50, connect_window=20)
            task_ids = issue_tasks(redis_server.url, load.tasks, 600)
            result = await run_watch(
                "smoke", load, port, web.popen.pid, redis_server.url, task_ids,
                lambda task_id: f"/audio/transcribe/events/{task_id}", writer_commands,
            )  # fmt: skip
            results.append(result)
    finally:
        web.stop()
    for result in results:
        watchers = result.load.watchers
        assert result.errors == {}
        assert result.opened == watchers
        assert (result.delivered, result.expected) == (3 * watchers, 3 * watchers)
        assert result.ended_early == 0
        assert all(math.isfinite(value) and value >= 0 for value in (*result.latency_ms, *result.first_event_ms))
        assert result.web_cpu_seconds >= 0 and result.window_seconds > 0
        assert isinstance(result.web_commands, Counter)

    path = tmp_path / "fanout.png"
    figure = fanout.draw(results, fanout.parse_args(["--quick"]), path, "scripts/bench fanout (smoke test)")
    assert png_size(path) == tuple(round(n) for n in figure.get_size_inches() * figure.dpi)
    latency, cpu = (lines_of(axis) for axis in figure.axes)
    small, large = results[1], results[0]
    assert latency["latency p50"] == ([20, 30], [small.latency_ms[0], large.latency_ms[0]])
    assert latency["latency p99"] == ([20, 30], [small.latency_ms[1], large.latency_ms[1]])
    per_event = [1e6 * r.web_cpu_seconds / r.delivered for r in (small, large)]
    assert cpu["web CPU per delivered event"] == ([20, 30], pytest.approx(per_event))


async def test_soak_quick_keeps_every_stream_fed(tmp_path: Path) -> None:
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

    path = tmp_path / "soak.png"
    figure = soak.draw(rows, args, path, "scripts/bench soak --quick (smoke test)")
    assert png_size(path) == tuple(round(n) for n in figure.get_size_inches() * figure.dpi)
    rss, cpu = (lines_of(axis) for axis in figure.axes)
    minutes = [row.minute for row in rows]
    assert rss["web RSS"] == (minutes, [row.rss / 2**20 for row in rows])
    assert cpu["web CPU per delivered event"] == (minutes, [row.cpu_per_event_us for row in rows])
    # An hour's rows have one at minute 10, which the plot marks the 5 % bound around.
    hour = [dataclasses.replace(row, minute=20 * row.minute) for row in rows]
    assert [row.minute for row in hour] == [10, 20, 30, 40]
    figure = soak.draw(hour, args, path, "")
    [band] = figure.axes[0].patches
    settled = hour[0].rss / 2**20
    assert band.get_label() == "within 5% of minute 10's"
    corners = band.get_patch_transform().transform(band.get_path().vertices)  # y in MB
    assert sorted({round(y, 6) for _, y in corners}) == pytest.approx([0.95 * settled, 1.05 * settled])

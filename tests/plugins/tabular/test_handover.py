"""A deploy in the middle of a training job: SIGTERM stops the worker between two fits, and the
next worker resumes from the candidates (and folds) already done, through the public checkpoint
helper: each candidate published once, percent never back, and the scores of an uninterrupted run."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from live_progress.launch.processes import Process, start_web, start_worker
from live_progress.launch.redis_server import RedisServer
from live_progress_tabular.parameters import TrainParameters
from live_progress_tabular.worker.training import train_on_csv
from tests.conftest import ARTIFACTS
from tests.plugins.tabular.service import LONG_FOLDS, LONG_GRID, copy_to, fits_done, service_env, submit
from tests.support.clients import percents, read_events

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env(redis_server: RedisServer, table_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # A database of its own: no other test's worker takes these jobs.
    return service_env(redis_server, 28, table_root, tmp_path_factory.mktemp("tabular-models"))


@pytest.fixture(scope="module")
def web(env: dict[str, str]) -> Iterator[str]:
    process, base_url = start_web(env, ARTIFACTS, name="web-tabular-stop")
    yield base_url
    process.stop()


@pytest.fixture
async def client(web: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web, timeout=httpx.Timeout(30, read=120)) as client:
        yield client


def stop(worker: Process, whole_group: bool) -> float:
    """SIGTERM as honcho and systemd send it (the group) or a container runtime (the main
    process only); the seconds until the worker exited."""
    sent = time.monotonic()
    if whole_group:
        os.killpg(worker.popen.pid, signal.SIGTERM)
    else:
        worker.popen.send_signal(signal.SIGTERM)
    worker.popen.wait(60)
    return time.monotonic() - sent


def without_timings(ranking: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "fit_seconds"} for row in ranking]


@pytest.mark.parametrize("whole_group", [True, False], ids=["group", "main-process-only"])
async def test_a_worker_stopped_mid_job_hands_it_to_the_next_which_resumes_where_it_stopped(
    client: httpx.AsyncClient, env: dict[str, str], table_root: Path, whole_group: bool
) -> None:
    csv_file = copy_to(table_root / "long" / "generated.csv", table_root / f"handed-over-{whole_group}")
    first = start_worker(env, ARTIFACTS, name="worker-tabular-stopped")
    try:
        task = await submit(client, csv_file, "label", grid=LONG_GRID, folds=LONG_FOLDS)
        watching = asyncio.create_task(read_events(client, task["events_url"]))
        await fits_done(client, task["result_url"], LONG_FOLDS + 2)  # into the second candidate
        exited_after = await asyncio.to_thread(stop, first, whole_group)
    finally:
        first.stop()
    # The contract: a worker stopped with SIGTERM in the middle of a job exits within 10 s.
    assert exited_after <= 10, f"the worker took {exited_after:.1f} s to exit"
    waiting = (await client.get(task["result_url"])).json()["root"]
    handed = re.search(r"\((\d) of 6 candidates, (\d+) of 31 fits done\)$", waiting["description"])
    assert waiting["description"].startswith("Worker stopped; waiting for another to carry on"), waiting
    assert handed and int(handed[1]) >= 1, waiting
    assert re.search(rf"Handed {task['task_id']} on at {waiting['percent']}%", first.log())

    second = start_worker(env, ARTIFACTS, name="worker-tabular-resumed")
    try:
        events = await asyncio.wait_for(watching, 120)
    finally:
        second.stop()

    assert [e.event for e in events if e.event not in ("status", "progress", "segment")] == ["result"]
    assert percents(events) == sorted(percents(events)), "percent went back"
    published = [e.data["root"]["candidate"] for e in events if e.event == "segment"]
    assert published == [1, 2, 3, 4, 5, 6], "a candidate published twice or skipped"
    assert re.search(rf"Resuming {task['task_id']} at {waiting['percent']}%", second.log())
    # The fits done before the stop are not done again.
    resumed = [e.data["root"] for e in events if e.event == "progress" and e.at > watching_started(events, waiting)]
    assert all(root.get("current", 31) >= int(handed[2]) for root in resumed), resumed

    # The same scores as a run that was never stopped (folds and models are seeded).
    whole = await asyncio.to_thread(
        train_on_csv,
        copy_to(csv_file, csv_file.parent / "uninterrupted"),
        "label",
        TrainParameters(grid=LONG_GRID, folds=LONG_FOLDS),
        report=lambda meta: None,
        publish=lambda root, line, checkpoint: None,
        stopping=lambda: False,
        fallback_dir=csv_file.parent / "fallback",
    )
    assert without_timings(events[-1].data["root"]["ranking"]) == without_timings(whole["ranking"])
    print(
        f"\nSIGTERM ({'group' if whole_group else 'main process'}) to exit: {exited_after:.2f} s; "
        f"handed over after {handed[2]} of 31 fits ({handed[1]} candidates) at {waiting['percent']}%"
    )


def watching_started(events: list, waiting: dict) -> float:
    """When the stream showed the waiting state: what comes after is the second worker's."""
    return next(
        e.at for e in events if e.event == "progress" and e.data["root"]["description"] == waiting["description"]
    )

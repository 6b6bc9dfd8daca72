"""The tabular plugin in the real service: a Celery worker started as the Procfile starts it
(every installed plugin loaded) and uvicorn serving the web. A job streams each candidate and
its result, its model downloads and predicts; a cancel stops it; the terminal client follows it."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris

from live_progress.launch.processes import Process, start_web, start_worker
from live_progress.launch.redis_server import RedisServer
from tests.conftest import ARTIFACTS
from tests.plugins.tabular.datasets import write_csv
from tests.plugins.tabular.service import LONG_FOLDS, LONG_GRID, copy_to, fits_done, service_env, submit
from tests.support.clients import Event, percents, read_events

pytestmark = pytest.mark.integration

LIVE_PROGRESS = Path(sys.executable).parent / "live-progress"
LINE = r"^n_estimators=\d+: accuracy 0\.\d{3} ± 0\.\d{3} \(3 folds\)$"


@pytest.fixture(scope="module")
def env(redis_server: RedisServer, table_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return service_env(redis_server, 29, table_root, tmp_path_factory.mktemp("tabular-models"))


@pytest.fixture(scope="module")
def web(env: dict[str, str]) -> Iterator[str]:
    process, base_url = start_web(env, ARTIFACTS, name="web-tabular")
    yield base_url
    process.stop()


@pytest.fixture(scope="module")
def worker(env: dict[str, str]) -> Iterator[Process]:
    process = start_worker(env, ARTIFACTS, name="worker-tabular")
    yield process
    process.stop()


@pytest.fixture
async def client(web: str, worker: Process) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web, timeout=httpx.Timeout(30, read=120)) as client:
        yield client


def candidates(events: list[Event]) -> list[dict]:
    return [e.data["root"] for e in events if e.event == "segment"]


def iris_accuracy(model_bytes: bytes) -> float:
    model = joblib.load(io.BytesIO(model_bytes))  # the file this test's own job wrote
    iris = load_iris()
    return float(np.mean(model.predict(iris.data) == iris.target_names[iris.target]))


async def test_a_job_streams_each_candidate_then_its_result_and_the_model_downloads(
    client: httpx.AsyncClient, table_root: Path
) -> None:
    csv_file = copy_to(table_root / "iris.csv", table_root / "streamed")
    task = await submit(client, csv_file, "species", grid=[5, 10, 20], folds=3)
    events = await read_events(client, task["events_url"])

    assert events[-1].event == "result"
    assert {e.event for e in events[:-1]} <= {"status", "progress", "segment"}
    roots = candidates(events)
    assert [(r["title"], r["candidate"], r["params"]) for r in roots] == [
        ("candidate", 1, {"n_estimators": 5}),
        ("candidate", 2, {"n_estimators": 10}),
        ("candidate", 3, {"n_estimators": 20}),
    ]
    assert all(re.match(LINE, root["line"]) for root in roots), [root["line"] for root in roots]
    assert percents(events) == sorted(percents(events))
    descriptions = [e.data["root"]["description"] for e in events if e.event == "progress"]
    assert any(
        re.match(r"Fitting random_forest n_estimators=\d+ \(fold \d of 3, candidate \d of 3\)$", d)
        for d in descriptions
    )

    result = events[-1].data["root"]
    assert len(result["ranking"]) == 3 and result["ranking"][0]["rank"] == 1
    assert result["best"]["params"] == {"n_estimators": result["ranking"][0]["n_estimators"]}
    assert result["files_dir"] == str(csv_file.parent)
    assert result["files"] == [{"name": "iris.random_forest.joblib"}]
    download = await client.get(f"/tabular/train/files/{task['task_id']}", params={"name": "iris.random_forest.joblib"})
    assert download.status_code == 200
    assert download.content == (csv_file.parent / "iris.random_forest.joblib").read_bytes()
    assert iris_accuracy(download.content) > 0.9


async def test_a_cancelled_job_stops_between_fits_and_writes_no_model(
    client: httpx.AsyncClient, table_root: Path
) -> None:
    csv_file = copy_to(table_root / "long" / "generated.csv", table_root / "cancelled")
    task = await submit(client, csv_file, "label", grid=LONG_GRID, folds=LONG_FOLDS)
    watching = asyncio.create_task(read_events(client, task["events_url"]))
    await fits_done(client, task["result_url"], 3)

    cancelled = await client.delete(f"/tabular/train/{task['task_id']}")
    events = await watching

    assert cancelled.status_code == 202
    assert events[-1].event == "error"
    assert events[-1].data["root"]["value"] == "Task cancelled"
    assert len(candidates(events)) < len(LONG_GRID)
    # The worker is free again: the next job runs to its end, and the cancelled one wrote nothing since.
    after = await submit(client, table_root / "iris.csv", "species", family="decision_tree", grid=[2], folds=2)
    assert (await read_events(client, after["events_url"]))[-1].event == "result"
    assert not (csv_file.parent / "generated.random_forest.joblib").exists()
    assert (await client.get(task["result_url"])).json()["root"]["value"] == "Task cancelled"


async def test_a_file_bad_past_the_rows_the_web_checked_fails_the_job_naming_the_line(
    client: httpx.AsyncClient, table_root: Path
) -> None:
    rows = [[n, n % 2] for n in range(120)] + [["oops", 1]]
    csv_file = write_csv(table_root / "bad-late" / "late.csv", ["x", "y"], rows)
    task = await submit(client, csv_file, "y", family="decision_tree", folds=2)
    events = await read_events(client, task["events_url"])

    assert events[-1].event == "error"
    assert events[-1].data["root"]["value"] == (
        f"Task failed: inputs.csv_file.path has value '{csv_file}', whose column 'x' is not numeric "
        "(line 122 has 'oops'): leave it out with parameters.ignore_columns, or choose it as inputs.target.text"
    )


async def test_the_terminal_client_watches_a_job_line_by_line(
    client: httpx.AsyncClient, table_root: Path, web: str
) -> None:
    csv_file = copy_to(table_root / "iris.csv", table_root / "watched")
    task = await submit(client, csv_file, "species", grid=[5, 10], folds=3)

    watched = subprocess.run(
        [str(LIVE_PROGRESS), "watch", task["task_id"], "--url", web], capture_output=True, text=True, timeout=120
    )

    assert watched.returncode == 0, watched.stderr
    # Each candidate's line as the task wrote it, above the progress; then the result's fields.
    lines = [line for line in watched.stderr.splitlines() if re.match(LINE, line.strip())]
    assert [line.strip().split(":")[0] for line in lines] == ["n_estimators=5", "n_estimators=10"], watched.stderr
    assert re.search(r"^summary: Best of 2: random_forest n_estimators=", watched.stdout, re.MULTILINE), watched.stdout
    assert re.search(r"^ranking:\n  rank +n_estimators +accuracy_mean", watched.stdout, re.MULTILINE), watched.stdout


async def test_the_terminal_client_submits_with_typed_parameters_and_downloads_the_model(
    client: httpx.AsyncClient, table_root: Path, web: str, tmp_path: Path
) -> None:
    csv_file = copy_to(table_root / "iris.csv", table_root / "submitted")
    done = subprocess.run(
        [
            str(LIVE_PROGRESS),
            "submit",
            "tabular/train",
            "--input",
            f"csv_file={csv_file}",
            "--input",
            "target=species",
            "-p",
            "family=knn",
            "-p",
            "grid=3, 9",
            "-p",
            "folds=3",
            "--url",
            web,
            "--output",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert re.search(r"n_neighbors=9: accuracy 0\.\d{3} ± 0\.\d{3} \(3 folds\)", done.stderr), done.stderr
    assert iris_accuracy((tmp_path / "iris.knn.joblib").read_bytes()) > 0.9

"""What the tabular plugin's integration tests share: the service's environment, submitting a
job over HTTP, and waiting for it to reach a fit."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx

from live_progress.launch.redis_server import RedisServer
from tests.support.eventually import eventually

# The long job: 6 candidates × 5 folds of a random forest on 600 rows (a few seconds), so a
# cancel or a stop lands between its fits.
LONG_GRID = [20, 40, 60, 80, 100, 120]
LONG_FOLDS = 5


def service_env(redis_server: RedisServer, database: int, root: Path, models_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_server.database_url(database),
        "ALLOWED_ROOTS": str(root),
        "TABULAR_MODELS_DIR": str(models_dir),
        "PYTHONUNBUFFERED": "1",
        "WORKER_METRICS_PORT": "0",
        # A handover taken for a death would show within the test.
        "WORKER_LOST_AFTER": "3",
        # The web checks the first 100 rows of a file; the worker reads them all.
        "TABULAR_CHECK_ROWS": "100",
    }


def copy_to(source: Path, folder: Path) -> Path:
    """A copy of ``source`` in a folder of the test's own, where its model is written."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(source, folder / source.name))


async def submit(client: httpx.AsyncClient, csv_file: Path, target: str, **parameters: Any) -> dict[str, str]:
    body = {"inputs": {"csv_file": {"path": str(csv_file)}, "target": {"text": target}}, "parameters": parameters}
    response = await client.post("/tabular/train", json=body)
    assert response.status_code == 202, response.text
    return response.json()


async def fits_done(client: httpx.AsyncClient, result_url: str, fits: int, timeout: float = 60) -> dict[str, Any]:
    """The job's progress once it reports ``fits`` fits done."""

    async def reached() -> dict[str, Any] | None:
        root: dict[str, Any] = (await client.get(result_url)).json()["root"]
        assert root["title"] in ("progress", "status"), root
        return root if root["title"] == "progress" and root.get("current", 0) >= fits else None

    return await eventually(reached, timeout=timeout, what=f"{fits} fits done")

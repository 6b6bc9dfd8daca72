"""create_app() mounted under a prefix in another Starlette app (tests/support/mounted_host.py),
served by uvicorn, with a real worker: a job is followed to its result under the prefix, the
host's own routes and lifespan still work, and its process is left as uvicorn set it up."""

from __future__ import annotations

import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen

import httpx
import pytest

from live_progress.launch.processes import Process, wait_for
from live_progress.launch.redis_server import free_port
from tests.conftest import ARTIFACTS, DATA, ROOT
from tests.support.clients import read_events

pytestmark = pytest.mark.integration

PREFIX = "/jobs"


@pytest.fixture
def host(service_env: dict[str, str], worker: Process) -> Iterator[tuple[Process, str]]:
    """The host app under uvicorn (its URL), once the mounted service has subscribed to Redis."""
    port = free_port()
    args = [
        sys.executable, "-m", "uvicorn", "tests.support.mounted_host:create_host_app", "--factory",
        "--app-dir", str(ROOT), "--host", "127.0.0.1", "--port", str(port), "--timeout-graceful-shutdown", "5",
    ]  # fmt: skip
    process = Process("web-mounted", args, service_env, ARTIFACTS)
    base_url = f"http://127.0.0.1:{port}"

    def subscribed() -> bool:
        assert process.alive(), process.log()
        try:
            with urlopen(f"{base_url}{PREFIX}/healthz", timeout=1) as response:
                return b'"subscribed":true' in response.read()
        except OSError:
            return False

    try:
        wait_for(subscribed, 30, "the mounted service")
        yield process, base_url
    finally:
        process.stop()


async def test_a_job_is_followed_under_the_prefix_and_the_host_keeps_its_process(
    host: tuple[Process, str], audio_root: Path
) -> None:
    process, base_url = host
    folder = audio_root / "mounted"
    folder.mkdir(exist_ok=True)
    shutil.copy(DATA / "batch" / "weather.mp3", folder)

    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        assert (await client.get("/")).json() == {"greeting": "the host's own lifespan ran"}

        submitted = await client.post(
            f"{PREFIX}/audio/transcribe", json={"inputs": {"input_dir": {"path": str(folder)}}}
        )
        assert submitted.status_code == 202, submitted.text
        task = submitted.json()
        assert task["result_url"] == f"{PREFIX}/audio/transcribe/result/{task['task_id']}"
        assert task["events_url"] == f"{PREFIX}/audio/transcribe/events/{task['task_id']}"
        assert submitted.headers["Location"] == task["result_url"]

        events = await read_events(client, task["events_url"])
        assert events[-1].event == "result", events[-1]
        [text] = events[-1].data["root"]["texts"]
        assert text["title"] == str(folder / "weather.mp3")
        assert "weather" in text["value"].lower()
        assert (await client.get(task["result_url"])).json() == events[-1].data

        # Log handlers, signal handlers and the GC as uvicorn left them before the service was built.
        assert (await client.get("/process")).json() == {"changed": {}}

    process.popen.send_signal(signal.SIGTERM)
    # Once it has shut down, uvicorn raises the signal it caught again, with the handler it found.
    assert process.popen.wait(20) == -signal.SIGTERM
    # The host's lifespan ended the mounted one's: its Redis clients and hub were closed cleanly.
    log = process.log()
    assert "Application shutdown complete." in log and "Finished server process" in log, log
    assert "Traceback" not in log, log

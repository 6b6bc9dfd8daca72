"""The example plugin of docs/plugins.md, as a third package would ship it: found through its
entry point, run by a real worker, streamed by a real web process, handed over on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from live_progress.launch.processes import Process, start_web, start_worker
from live_progress.launch.redis_server import RedisServer
from tests.conftest import ARTIFACTS, ROOT
from tests.support.clients import Event, percents, read_events

pytestmark = pytest.mark.integration

SITE = ROOT / "tests" / "support" / "plugin_site"


def test_the_plugin_is_the_one_docs_plugins_md_shows() -> None:
    """Line for line: what the page tells a third package to write is what runs here."""
    doc = (ROOT / "docs" / "plugins.md").read_text()
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    web_half, worker_half = re.split(r"# countdown/worker\.py: .*\n", code)
    shipped = {
        "__init__.py": (SITE / "countdown" / "__init__.py").read_text(),
        "worker.py": (SITE / "countdown" / "worker.py").read_text(),
    }
    for name, half in (("__init__.py", web_half), ("worker.py", worker_half)):
        body = "\n".join(line for line in half.splitlines() if not line.startswith("# countdown/")).strip()
        assert body in shipped[name], f"tests/support/plugin_site/countdown/{name} differs from docs/plugins.md"
    assert "countdown = countdown:plugin" in (SITE / "countdown-1.0.dist-info" / "entry_points.txt").read_text()


@pytest.fixture(scope="module")
def countdown_env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    # Installed the way pip leaves a package (a folder and its dist-info on the path), and the
    # only plugin these processes load: PLUGINS narrows the installed set.
    return {
        **service_env,
        "REDIS_URL": redis_server.database_url(25),
        "PYTHONPATH": str(SITE),
        "PLUGINS": "countdown",
        "WORKER_LOST_AFTER": "3",
    }


@pytest.fixture(scope="module")
def web(countdown_env: dict[str, str]) -> Iterator[str]:
    process, base_url = start_web(countdown_env, ARTIFACTS, name="web-countdown")
    yield base_url
    process.stop()


@pytest.fixture
async def client(web: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web, timeout=httpx.Timeout(30, read=60)) as client:
        yield client


def steps_of(events: list[Event]) -> list[int]:
    return [e.data["root"]["step"] for e in events if e.event == "segment"]


async def test_a_job_of_the_installed_plugin_streams_to_its_result(
    client: httpx.AsyncClient, countdown_env: dict[str, str]
) -> None:
    listed = (await client.get("/api/plugins")).json()
    assert [plugin["plugin_name"] for plugin in listed] == ["countdown"]
    assert (await client.post("/audio/transcribe", json={})).status_code == 404

    worker = start_worker(countdown_env, ARTIFACTS, name="worker-countdown")
    try:
        submitted = await client.post("/countdown/run", json={"parameters": {"steps": 3}})
        assert submitted.status_code == 202, submitted.text
        events = await read_events(client, submitted.json()["events_url"])
    finally:
        worker.stop()

    assert steps_of(events) == [1, 2, 3]
    assert [e.data["root"]["line"] for e in events if e.event == "segment"] == [
        "step 1 done",
        "step 2 done",
        "step 3 done",
    ]
    assert percents(events)[-1] == 99
    assert events[-1].event == "result"
    assert events[-1].data["root"]["value"] == "Counted 3 steps"


async def test_its_checks_are_the_request_models(client: httpx.AsyncClient) -> None:
    answer = await client.post("/countdown/run", json={"parameters": {"steps": 0}})

    assert answer.status_code == 422
    assert "parameters.steps" in answer.json()["error"]


async def step_reached(client: httpx.AsyncClient, result_url: str, step: int) -> None:
    deadline = time.monotonic() + 30
    while (root := (await client.get(result_url)).json()["root"]).get("description") != f"Step {step} of 6":
        assert time.monotonic() < deadline, root
        await asyncio.sleep(0.05)


async def test_sigterm_hands_the_job_to_the_next_worker_from_its_checkpoint(
    client: httpx.AsyncClient, countdown_env: dict[str, str]
) -> None:
    first = start_worker(countdown_env, ARTIFACTS, name="worker-countdown-first")
    second: Process | None = None
    try:
        task = (await client.post("/countdown/run", json={"parameters": {"steps": 6}})).json()
        reading = asyncio.create_task(read_events(client, task["events_url"]))
        await step_reached(client, task["result_url"], 2)
        # SIGTERM, as a deploy sends it: the job is handed over between steps, and the worker
        # exits within the contract's 10 s.
        sent = time.monotonic()
        first.popen.send_signal(signal.SIGTERM)
        await asyncio.to_thread(first.popen.wait, 60)
        exited_after = time.monotonic() - sent
        assert exited_after <= 10, f"the worker took {exited_after:.1f} s to exit"
        assert "Handed" in first.log()
        second = start_worker(countdown_env, ARTIFACTS, name="worker-countdown-second")
        events = await asyncio.wait_for(reading, 60)
    finally:
        first.stop()
        if second is not None:
            second.stop()

    assert steps_of(events) == [1, 2, 3, 4, 5, 6]  # each once, none skipped
    assert percents(events) == sorted(percents(events))  # never back
    assert any(e.data["root"].get("description", "").startswith("Stopped at step") for e in events)
    assert events[-1].event == "result"


def test_a_live_result_and_its_checkpoint_are_saved_in_one_step(countdown_env: dict[str, str]) -> None:
    """Job.publish(..., checkpoint=...): the result in the job's stream and the checkpoint
    beside it, written by one script (a worker that dies leaves both or neither)."""
    from celery import Celery, Task
    from redis import Redis

    from live_progress import Job
    from live_progress.contract import segments_key

    celery = Celery("publish-test", backend=countdown_env["REDIS_URL"], broker=countdown_env["REDIS_URL"])

    def task_body(self: Task) -> None:
        """Stands in for a running task: a Job needs a task of an app."""

    task = celery.task(name="publish-test", bind=True, shared=False)(task_body)
    redis = Redis.from_url(countdown_env["REDIS_URL"])
    try:
        job = Job(task, "publish-test-job")
        job.publish({"title": "step", "step": 1}, line="step 1 done", checkpoint={"done": 1})
        job.publish({"title": "step", "step": 2}, line="step 2 done")

        assert job.load_checkpoint() == {"done": 1}
        entries = redis.xrange(segments_key("publish-test-job"))
        assert [e[1][b"root"] for e in entries] == [
            b'{"title":"step","step":1,"line":"step 1 done"}',
            b'{"title":"step","step":2,"line":"step 2 done"}',
        ]
        assert 0 < redis.ttl("live-progress:resume:publish-test-job") <= 86_400
    finally:
        redis.close()
        celery.backend.client.close()
        celery.close()

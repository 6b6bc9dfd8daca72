"""A browser's EventSource across a restart of the web process: nothing twice, the end not missed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser

from live_progress.launch.processes import Process, start_web, start_worker
from live_progress.launch.redis_server import RedisServer
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.integration


# Records every event the way a page would see it, and every connection error.
FOLLOW = """(url) => {
  window.seen = []; window.connectionErrors = 0;
  const source = new EventSource(url);
  for (const kind of ["status", "progress", "result", "error"]) {
    source.addEventListener(kind, (e) => {
      if (!e.data) { if (kind === "error") window.connectionErrors += 1; return; }
      const data = JSON.parse(e.data);
      window.seen.push({ kind, id: e.lastEventId, data });
      if (kind === "result" || (kind === "error" && data.root)) source.close();
    });
  }
}"""


@pytest.fixture
def restart_env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    return {**service_env, "REDIS_URL": redis_server.database_url(8)}


@pytest.fixture
def restart_worker(restart_env: dict[str, str]) -> Iterator[Process]:
    process = start_worker(restart_env, ARTIFACTS, name="worker-restart")
    yield process
    process.stop()


def test_event_source_resumes_across_a_web_restart(
    browser: Browser, restart_env: dict[str, str], restart_worker: Process, audio_root: Path
) -> None:
    web, base_url = start_web(restart_env, ARTIFACTS, name="web-restart-1")
    port = urlsplit(base_url).port
    context = browser.new_context(base_url=base_url)
    try:
        task = httpx.post(
            f"{base_url}/audio/transcribe", json={"inputs": {"input_dir": {"path": str(audio_root / "many")}}}
        ).json()
        page = context.new_page()
        page.goto("/healthz")
        page.evaluate(FOLLOW, task["events_url"])
        page.wait_for_function(
            "() => window.seen.some((e) => e.data.root?.description?.startsWith('Transcribing'))",
            timeout=60_000,
        )

        web.stop()
        before_restart = len(page.evaluate("() => window.seen"))
        web, _ = start_web(restart_env, ARTIFACTS, name="web-restart-2", port=port)

        page.wait_for_function("() => window.seen.some((e) => e.kind === 'result')", timeout=120_000)
        seen = page.evaluate("() => window.seen")
        ids = [event["id"] for event in seen]
        assert len(ids) == len(set(ids)), f"an event came twice: {ids}"
        percents = [e["data"]["root"]["percent"] for e in seen if e["kind"] == "progress"]
        assert percents == sorted(percents)
        assert seen[-1]["kind"] == "result"
        assert len(seen) > before_restart, "nothing arrived after the restart"
        assert page.evaluate("() => window.connectionErrors") >= 1, "the stream never broke"
    finally:
        context.close()
        web.stop()

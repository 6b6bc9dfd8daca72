"""Debian's nginx in front of two web processes, configured by the shipped deploy/nginx.conf:
events arrive as they happen, polling works, and a browser's EventSource that loses its web
process reconnects through nginx to the other one and resumes there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse
from playwright.sync_api import Browser

from live_progress.launch.processes import Process, start_web, start_worker, wait_for
from live_progress.launch.redis_server import RedisServer, free_port
from tests.conftest import ARTIFACTS, ROOT

pytestmark = pytest.mark.integration

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SHIPPED = ROOT / "deploy" / "nginx.conf"

# Records every event the way a page would see it, and every connection error.
FOLLOW = """(url) => {
  window.seen = []; window.connectionErrors = 0;
  const source = new EventSource(url);
  for (const kind of ["status", "progress", "segment", "result", "error"]) {
    source.addEventListener(kind, (e) => {
      if (!e.data) { if (kind === "error") window.connectionErrors += 1; return; }
      window.seen.push({ kind, id: e.lastEventId, data: JSON.parse(e.data) });
      if (kind === "result" || kind === "error") source.close();
    });
  }
}"""


def site_config(web_ports: list[int], port: int, buffering_default: bool) -> str:
    """The shipped file with this test's ports; with ``buffering_default``, without its
    ``proxy_buffering off`` (the app's X-Accel-Buffering header must then do the job)."""
    text = SHIPPED.read_text()
    servers = "".join(f"    server 127.0.0.1:{p};\n" for p in web_ports)
    text, n = re.subn(r"(?:    server 127\.0\.0\.1:\d+;\n)+", servers, text)
    assert n == 1, "the upstream block changed shape"
    text, n = re.subn(r"listen \d+;", f"listen 127.0.0.1:{port};", text)
    assert n == 1
    if buffering_default:
        text, n = re.subn(r"\n\s*proxy_buffering off;[^\n]*", "", text)
        assert n == 1
    return text


@pytest.fixture(scope="module")
def nginx_env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    if not Path(NGINX).exists():
        pytest.skip("No nginx (apt-get install nginx; .ci/run does that as root)")
    return {**service_env, "REDIS_URL": redis_server.database_url(18)}


@pytest.fixture(scope="module")
def worker(nginx_env: dict[str, str]) -> Iterator[Process]:
    process = start_worker(nginx_env, ARTIFACTS, name="worker-nginx")
    yield process
    process.stop()


@pytest.fixture
def webs(nginx_env: dict[str, str], worker: Process) -> Iterator[list[tuple[Process, str]]]:
    started = [start_web(nginx_env, ARTIFACTS, name=f"web-nginx-{n}") for n in (1, 2)]
    yield started
    for process, _ in started:
        process.stop()


def start_nginx(folder: Path, web_urls: list[str], buffering_default: bool = False) -> tuple[subprocess.Popen, str]:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (folder / "live-progress.conf").write_text(
        site_config([int(url.rsplit(":", 1)[1]) for url in web_urls], port, buffering_default)
    )
    temp = "".join(
        f"{kind}_temp_path {folder}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (folder / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
        + ("user root;\n" if os.geteuid() == 0 else "")
        + "events { worker_connections 256; }\n"
        + f"http {{\naccess_log {folder}/access.log;\n{temp}include {folder}/live-progress.conf;\n}}\n"
    )
    with (folder / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")], stderr=stderr)
    base_url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert process.poll() is None, (folder / "stderr.log").read_text()
        try:
            return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(answers, 15, "nginx")
    return process, base_url


@pytest.fixture
def nginx(webs: list[tuple[Process, str]], tmp_path: Path) -> Iterator[str]:
    process, base_url = start_nginx(tmp_path / "nginx", [url for _, url in webs])
    yield base_url
    process.terminate()
    process.wait(10)


def submit(base_url: str, folder: Path) -> dict[str, str]:
    response = httpx.post(f"{base_url}/audio/transcribe", json={"inputs": {"input_dir": {"path": str(folder)}}})
    assert response.status_code == 202, response.text
    return response.json()


@pytest.mark.parametrize("buffering_default", [False, True], ids=["shipped", "nginx-default-buffering"])
def test_events_come_through_nginx_as_they_happen_and_polling_agrees(
    webs: list[tuple[Process, str]], tmp_path: Path, audio_root: Path, buffering_default: bool
) -> None:
    process, base_url = start_nginx(tmp_path / "nginx", [url for _, url in webs], buffering_default)
    try:
        task = submit(base_url, audio_root / "many")
        running_when_read = []
        with httpx.Client(base_url=base_url, timeout=httpx.Timeout(10, read=120)) as client:
            with connect_sse(client, "GET", task["events_url"]) as source:
                assert source.response.headers["content-type"].startswith("text/event-stream")
                for sse in source.iter_sse():
                    if sse.event == "progress" and "Transcribing" in sse.data:
                        # Read while the task still runs: nothing held it back until the end.
                        poll = client.get(task["result_url"]).json()["root"]
                        running_when_read.append(poll.get("title") == "progress")
                    if sse.event == "result":
                        result = sse.data
                        break
            # Polls go to either web (nginx takes turns), and each answers from a cache its own
            # subscription keeps current: the other web may get the result a few milliseconds
            # after the one that streamed it. All must come to agree: a poll through nginx and
            # one to each web directly answer the result.
            deadline = time.monotonic() + 30
            while (
                polled := [client.get(task["result_url"]).text]
                + [httpx.get(url + task["result_url"], timeout=10).text for _, url in webs]
            ) != [result] * (1 + len(webs)):
                assert time.monotonic() < deadline, f"polling never agreed with the stream: {polled}"
                time.sleep(0.01)
    finally:
        process.terminate()
        process.wait(10)
    assert running_when_read and running_when_read[0], running_when_read


def test_an_event_source_reconnects_through_nginx_to_the_other_replica_and_resumes(
    browser: Browser, webs: list[tuple[Process, str]], nginx: str, audio_root: Path
) -> None:
    task = submit(nginx, audio_root / "many")
    context = browser.new_context(base_url=nginx)
    try:
        page = context.new_page()
        page.goto("/healthz")
        page.evaluate(FOLLOW, task["events_url"])
        page.wait_for_function(
            "() => window.seen.some((e) => e.data.root?.description?.startsWith('Transcribing'))", timeout=60_000
        )

        def streams(url: str) -> int:
            return int(httpx.get(f"{url}/healthz", timeout=5).json()["streams"])

        (serving,) = [(process, url) for process, url in webs if streams(url) == 1]
        (other_url,) = [url for _, url in webs if url != serving[1]]
        before = len(page.evaluate("() => window.seen"))
        serving[0].stop()  # SIGTERM: its streams close; the browser reconnects through nginx
        wait_for(lambda: streams(other_url) == 1, 30, "the reconnect on the other replica")

        page.wait_for_function("() => window.seen.some((e) => e.kind === 'result')", timeout=120_000)
        seen = page.evaluate("() => window.seen")
    finally:
        context.close()
    ids = [event["id"] for event in seen]
    assert len(ids) == len(set(ids)), f"an event came twice: {ids}"
    percents = [e["data"]["root"]["percent"] for e in seen if e["kind"] == "progress"]
    assert percents == sorted(percents)
    assert seen[-1]["kind"] == "result" and len(seen) > before
    assert httpx.get(f"{nginx}{task['result_url']}").json()["root"] == seen[-1]["data"]["root"]

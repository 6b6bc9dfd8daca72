"""Another website, in a real browser, against the service's desktop default (no API_TOKEN).

Chromium resolves ``attacker.test`` and ``rebind.test`` to 127.0.0.1 (``--host-resolver-rules``),
as DNS would for a site that rebinds its name: the attacker's page is a second local HTTP
server under a name of its own; the service is addressed as 127.0.0.1.
"""

from __future__ import annotations

import html
import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from redis import Redis

from live_progress.launch.processes import start_web
from live_progress.launch.redis_server import RedisServer
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DATA

pytestmark = pytest.mark.integration

SOME_ID = "5f0c1e9a-3b7d-4c2e-9a51-0d6f2b8e4c17"
RESOLVE_TO_LOOPBACK = "--host-resolver-rules=MAP attacker.test 127.0.0.1,MAP rebind.test 127.0.0.1"


@dataclass
class AttackSite:
    """A page on another origin that tries to start a job, and what it sent to itself."""

    url: str
    captured: list[tuple[str, bytes]] = field(default_factory=list)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A form with enctype="text/plain" sends "name=value": the "=" lands inside the path.
    folder = tmp_path_factory.mktemp("cross-site-root") / "clips="
    folder.mkdir()
    shutil.copy(DATA / "batch" / "train.WAV", folder / "train.WAV")
    return folder


@pytest.fixture(scope="module")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.database_url(13)


@pytest.fixture(scope="module")
def target(redis_url: str, service_env: dict[str, str], folder: Path) -> Iterator[str]:
    # No worker listens on this database: a job that got in would wait in the queue, to be counted.
    env = {**service_env, "REDIS_URL": redis_url, "ALLOWED_ROOTS": str(folder.parent)}
    process, base_url = start_web(env, ARTIFACTS, name="web-cross-site")
    yield base_url
    process.stop()


def attack_page(target: str, folder: Path) -> bytes:
    body = json.dumps({"inputs": {"input_dir": {"path": str(folder)}}, "parameters": {}})
    name, value = body.split("=", 1)
    return f"""<!doctype html><meta charset="utf-8"><title>Win a prize</title>
<form id="prize" method="post" enctype="text/plain" action="{target}/audio/transcribe">
<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}"><button>Claim</button></form>
<script>
const body = {json.dumps(body)};
window.sendFetch = async (url) => {{
  await fetch(url, {{ method: "POST", mode: "no-cors", headers: {{ "Content-Type": "text/plain" }}, body }});
  return "answered";
}};
</script>""".encode()


@pytest.fixture(scope="module")
def attacker(target: str, folder: Path) -> Iterator[AttackSite]:
    captured: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = attack_page(target, folder)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def do_POST(self) -> None:
            # What the page sends, when aimed at its own site: the bytes the service would get.
            length = int(self.headers.get("Content-Length", "0"))
            captured.append((self.headers.get("Content-Type", ""), self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "8")
            self.end_headers()
            self.wfile.write(b"captured")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield AttackSite(f"http://attacker.test:{server.server_address[1]}", captured)
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"No browser: {CHROMIUM} is missing (apt-get install chromium; .ci/run does that as root)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, RESOLVE_TO_LOOPBACK])
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context()
    yield context.new_page()
    context.close()


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


def jobs(redis: Redis) -> tuple[int, int]:
    """Task ids the service issued, and tasks waiting in Celery's queue."""
    return len(redis.keys("live-progress:issued:*")), int(redis.llen("celery"))


def test_a_text_plain_fetch_from_another_site_starts_no_job(
    page: Page, attacker: AttackSite, target: str, redis: Redis
) -> None:
    before = jobs(redis)
    page.goto(attacker.url)

    # The fetch resolves (with an opaque answer) only once the service has answered it.
    assert page.evaluate("(url) => sendFetch(url)", f"{target}/audio/transcribe") == "answered"

    assert jobs(redis) == before


def test_a_text_plain_form_from_another_site_starts_no_job(
    page: Page, attacker: AttackSite, target: str, redis: Redis
) -> None:
    before = jobs(redis)
    page.goto(attacker.url)

    with page.expect_navigation(url=f"{target}/audio/transcribe") as navigation:
        page.get_by_role("button", name="Claim").click()

    response = navigation.value
    assert response is not None and response.status == 403
    assert "CORS_ORIGINS" in json.loads(page.inner_text("body"))["error"]
    assert jobs(redis) == before


def test_what_the_attack_sends_would_start_a_job_if_it_said_json(
    page: Page, attacker: AttackSite, target: str, redis: Redis
) -> None:
    """The attacks above fail for the guard's reasons, not because their bodies are wrong."""
    page.goto(attacker.url)
    attacker.captured.clear()
    page.evaluate("(url) => sendFetch(url)", f"{attacker.url}/capture")
    page.evaluate("(url) => { const form = document.getElementById('prize'); form.action = url; }", attacker.url)
    with page.expect_navigation():
        page.get_by_role("button", name="Claim").click()
    assert [content_type.split(";")[0] for content_type, _ in attacker.captured] == ["text/plain", "text/plain"]

    before = jobs(redis)
    for _, body in attacker.captured:
        response = httpx.post(f"{target}/audio/transcribe", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 202, response.text

    assert jobs(redis) == (before[0] + 2, before[1] + 2)


@pytest.mark.parametrize(
    "path", ["/", "/healthz", f"/audio/transcribe/result/{SOME_ID}", f"/audio/transcribe/events/{SOME_ID}"]
)
def test_a_rebound_name_gets_400_naming_allowed_hosts(page: Page, target: str, path: str) -> None:
    port = target.rsplit(":", 1)[1]

    response = page.goto(f"http://rebind.test:{port}{path}")

    assert response is not None and response.status == 400
    assert "ALLOWED_HOSTS" in json.loads(page.inner_text("body"))["error"]


def test_a_stream_answers_its_own_host_and_no_other(target: str, folder: Path) -> None:
    with httpx.Client(base_url=target, timeout=10) as client:
        task = client.post("/audio/transcribe", json={"inputs": {"input_dir": {"path": str(folder)}}}).json()
        with client.stream("GET", task["events_url"]) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
        refused = client.get(task["events_url"], headers={"Host": f"rebind.test:{target.rsplit(':', 1)[1]}"})

    assert refused.status_code == 400
    assert "ALLOWED_HOSTS" in refused.json()["error"]

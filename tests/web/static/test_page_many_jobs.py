"""The page with many jobs at once, in a real browser: one stream for all of them, never a stall."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest
from celery import Celery
from playwright.sync_api import Browser, Locator, Page, Request, expect

from live_progress.contract import celery_config
from tests.conftest import ARTIFACTS, DATA

pytestmark = pytest.mark.integration

JOBS = 12
DONE_WITHIN_MS = 60_000


@pytest.fixture(scope="module")
def folders(audio_root: Path) -> list[Path]:
    """JOBS + 1 folders, each holding a copy of the shortest committed clip."""
    made = []
    for n in range(JOBS + 1):
        folder = audio_root / "one-each" / f"job-{n:02d}"
        folder.mkdir(parents=True)
        shutil.copy(DATA / "batch" / "weather.mp3", folder / "weather.mp3")
        made.append(folder)
    return made


@pytest.fixture
def hold_queue(service_env: dict[str, str], service: str) -> Iterator[Callable[[], None]]:
    """Stops the worker taking tasks (Celery's remote control), so every job stays queued until
    the test calls what this yields: then the worker takes them again."""
    celery = Celery("test-hold-queue")
    url = service_env["REDIS_URL"]
    celery.conf.update(celery_config(url, url, 3600))

    def release() -> None:
        celery.control.add_consumer("celery", reply=True, timeout=5)

    assert celery.control.cancel_consumer("celery", reply=True, timeout=5), "no worker answered"
    try:
        yield release
    finally:
        release()
        celery.close()


class ConnectionCounter:
    """Samples, every 20 ms until stopped, the web's open streams (its /healthz) and the TCP
    connections other processes on this machine (the browser) hold to its port."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url
        self._port = urlsplit(base_url).port
        self._stop = threading.Event()
        self.streams: list[int] = []
        self.connections: list[int] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ConnectionCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            with urlopen(f"{self._base_url}/healthz", timeout=5) as response:
                self.streams.append(json.load(response)["streams"])
            self.connections.append(self.browser_connections())

    def browser_connections(self) -> int:
        """Established TCP connections to the web's port from sockets this process does not own."""
        own = set()
        for fd in os.listdir("/proc/self/fd"):
            target = os.readlink(f"/proc/self/fd/{fd}") if os.path.islink(f"/proc/self/fd/{fd}") else ""
            if target.startswith("socket:["):
                own.add(target[len("socket:[") : -1])
        count = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as lines:
                for line in list(lines)[1:]:
                    fields = line.split()
                    remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                    if fields[3] == "01" and remote_port == self._port and fields[9] not in own:
                        count += 1
        return count


class RequestsInFlight:
    """The page's API requests in flight at once (each holds a connection of its own over
    HTTP/1.1), from Playwright's request events; loading the page's own files is not counted."""

    def __init__(self, page: Page, base_url: str) -> None:
        self._api = f"{base_url}/audio/"
        self.now: set[Request] = set()
        self.most = 0
        self.at_most: list[str] = []
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, request: Request) -> None:
        # Not the folder listings: the page aborts one still under way when it submits, but
        # Playwright may report that abort after the submit's request has started.
        if request.url.startswith(self._api) and "/folders?" not in request.url:
            self.now.add(request)
            if len(self.now) > self.most:
                self.most = len(self.now)
                self.at_most = [f"{r.method} {r.url[len(self._api) - 7 :][:60]}" for r in self.now]

    def _ended(self, request: Request) -> None:
        self.now.discard(request)


def submit(page: Page, folder: Path) -> Locator:
    page.get_by_label("Folder of audio files").fill(str(folder))
    page.get_by_role("button", name="Transcribe").click()
    job = page.get_by_role("article", name=str(folder), exact=True)
    expect(job).to_be_visible()
    return job


@pytest.fixture
def page(browser: Browser, service: str) -> Iterator[Page]:
    context = browser.new_context(base_url=service)
    page = context.new_page()
    errors: list[Exception] = []
    page.on("pageerror", lambda error: errors.append(error))
    yield page
    context.close()
    assert not errors, f"the page threw: {errors}"


def test_a_thirteenth_job_starts_at_once_and_every_box_updates(
    page: Page, service: str, folders: list[Path], hold_queue: Callable[[], None]
) -> None:
    in_flight = RequestsInFlight(page, service)
    page.goto("/")
    with ConnectionCounter(service) as counter:
        jobs = [submit(page, folder) for folder in folders[:JOBS]]
        for job in jobs:
            expect(job.locator(".state")).to_have_text("Queued")
            expect(job.locator(".transport")).to_have_text("Live updates over Server-Sent Events")

        # With twelve jobs queued (a stream each would have used up the browser's six
        # connections long ago), the thirteenth submit answers and its box appears.
        clicked = time.monotonic()
        thirteenth = submit(page, folders[JOBS])
        box_after = time.monotonic() - clicked
        expect(thirteenth.locator(".state")).to_have_text("Queued")
        jobs.append(thirteenth)

        # A reload with thirteen unfinished jobs brings them all back, on one stream.
        page.reload()
        for job in jobs:
            expect(job.locator(".state")).to_have_text("Queued")

        hold_queue()
        for job in jobs:
            expect(job.locator(".state")).to_have_text("Done", timeout=DONE_WITHIN_MS)
            expect(job.locator(".batch-text pre")).to_contain_text(re.compile("weather", re.I))
            expect(job.get_by_role("progressbar")).to_have_attribute("value", "100")
    page.screenshot(path=ARTIFACTS / "page-many-jobs.png", full_page=True)

    # Figures, not assertions: TCP connections include the idle keep-alive ones left from
    # loading the page's files, which the browser reuses for its next requests.
    print(
        f"\n{JOBS} jobs queued: 13th click to its box {box_after * 1000:.0f} ms; "
        f"web streams open at most {max(counter.streams)}; "
        f"API requests in flight at most {in_flight.most}; "
        f"browser TCP connections to the web at most {max(counter.connections)}, "
        f"at the end {counter.connections[-1]} ({len(counter.streams)} samples)"
    )
    assert max(counter.streams) <= 2, counter.streams
    assert in_flight.most <= 2, in_flight.at_most

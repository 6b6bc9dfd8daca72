"""The page at / in a real browser (Debian's chromium driven by Playwright) against the real service."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from urllib.request import Request, urlopen

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from live_progress.launch.processes import wait_for
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.integration

DONE_WITHIN_MS = 60_000
EVENTS_ROUTE = re.compile(r"/audio/transcribe/events\?")

# Every value each progress bar takes, keyed by its label: the test reads them after the fact.
RECORD_PROGRESS = """
window.progressSeen = {};
new MutationObserver((records) => {
  for (const { target } of records) {
    if (target.localName === "progress" && target.hasAttribute("value")) {
      (window.progressSeen[target.getAttribute("aria-label")] ??= []).push(target.value);
    }
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["value"] });
"""


@pytest.fixture
def page(browser: Browser, service: str) -> Iterator[Page]:
    context = browser.new_context(base_url=service, accept_downloads=True)
    context.add_init_script(RECORD_PROGRESS)
    page = context.new_page()
    errors: list[Exception] = []
    page.on("pageerror", lambda error: errors.append(error))
    yield page
    context.close()
    assert not errors, f"the page threw: {errors}"


def submit(page: Page, folder: Path) -> Locator:
    """Submits a folder through the form and returns that job's box on the page."""
    if page.url == "about:blank":
        page.goto("/")
    page.get_by_label("Folder of audio files").fill(str(folder))
    page.get_by_role("button", name="Transcribe").click()
    job = page.get_by_role("article", name=str(folder), exact=True)
    expect(job).to_be_visible()
    return job


def progress_seen(page: Page, folder: Path) -> list[int]:
    return page.evaluate("(label) => window.progressSeen[label] ?? []", f"Progress of {folder}")


def result_of(service: str, job: Locator) -> dict:
    task_id = job.get_attribute("data-task-id")
    with urlopen(f"{service}/audio/transcribe/result/{task_id}", timeout=10) as response:
        return json.load(response)["root"]


def expect_batch_transcribed(job: Locator, service: str) -> None:
    expect(job.locator(".state")).to_have_text("Done", timeout=DONE_WITHIN_MS)
    expect(job.locator(".batch-text .name")).to_have_text(["train.WAV", "weather.mp3", "cooking.flac"])
    texts = [t["value"] for t in result_of(service, job)["texts"]]
    expect(job.locator(".batch-text pre")).to_have_text(texts)
    assert "london" in texts[0].lower()


def test_submit_shows_a_moving_bar_then_the_transcripts(page: Page, service: str, audio_root: Path) -> None:
    batch = submit(page, audio_root / "batch")
    with_corrupt = submit(page, audio_root / "with_corrupt")  # a second job while the first runs

    expect(batch.locator(".transport")).to_have_text("Live updates over Server-Sent Events")
    expect(batch.locator(".elapsed")).to_contain_text("Elapsed")
    expect_batch_transcribed(batch, service)
    bar = batch.get_by_role("progressbar")
    expect(bar).to_have_attribute("value", "100")
    expect(batch.locator(".percent")).to_have_text("100%")
    seen = progress_seen(page, audio_root / "batch")
    assert len({p for p in seen if p < 100}) >= 2, f"the bar took only {seen} before the end"
    assert seen == sorted(seen), seen

    with page.expect_download() as download:
        batch.get_by_role("link", name="Download").nth(1).click()
    assert download.value.suggested_filename == "weather.txt"
    assert "weather" in Path(download.value.path()).read_text().lower()

    expect(with_corrupt.locator(".state")).to_have_text("Done, with errors", timeout=DONE_WITHIN_MS)
    expect(with_corrupt.get_by_role("alert")).to_have_text("1 of 2 files failed; see below.")
    expect(with_corrupt.locator(".batch-text.failed .name")).to_have_text("broken.mp3: failed")
    expect(with_corrupt.locator(".batch-text.failed pre")).to_contain_text("broken.mp3")
    page.screenshot(path=ARTIFACTS / "page-finished.png", full_page=True)


@pytest.mark.parametrize(
    ("how", "transport"),
    [
        ("no EventSource", "Polling the result every 1 s (this browser has no EventSource)"),
        ("stream refused", "Polling the result every 1 s (the live stream kept failing)"),
    ],
)
def test_polling_fallback_reaches_the_same_result(
    page: Page, service: str, audio_root: Path, how: str, transport: str
) -> None:
    if how == "no EventSource":
        page.add_init_script("delete window.EventSource")
    else:
        page.route(EVENTS_ROUTE, lambda route: route.fulfill(status=503, json={"error": "Not subscribed to Redis"}))
    job = submit(page, audio_root / "batch")
    expect(job.locator(".transport")).to_have_text(transport)
    expect_batch_transcribed(job, service)


def test_a_dropped_stream_reconnects_and_still_gets_the_result(page: Page, service: str, audio_root: Path) -> None:
    def drop_after_the_job_ends(route: Route) -> None:
        # The first stream stays silent until the task is done, then ends: the final event
        # happened while the page was not connected, and must reach it on the reconnect.
        url = urlsplit(route.request.url)
        (task_id,) = parse_qs(url.query)["task_id"]
        result_url = f"{url.scheme}://{url.netloc}/audio/transcribe/result/{task_id}"
        wait_for(lambda: _final(result_url), DONE_WITHIN_MS / 1000, "the task to finish")
        route.fulfill(status=200, content_type="text/event-stream", body="retry: 100\n\n")

    page.route(EVENTS_ROUTE, drop_after_the_job_ends, times=1)
    job = submit(page, audio_root / "batch")
    expect_batch_transcribed(job, service)
    expect(job.locator(".transport")).to_have_text("Live updates over Server-Sent Events")


def _final(result_url: str) -> bool:
    with urlopen(result_url, timeout=10) as response:
        return json.load(response)["root"].get("title") not in {"progress", "status"}


def test_cancel_ends_the_job(page: Page, audio_root: Path) -> None:
    job = submit(page, audio_root / "many")
    expect(job.locator(".description")).to_contain_text("Transcribing", timeout=DONE_WITHIN_MS)
    expect(job.locator(".eta")).to_have_text(re.compile(r"estimating…|about \d+ s left"))
    expect(job.locator(".eta")).to_have_text(re.compile(r"about \d+ s left"), timeout=DONE_WITHIN_MS)
    page.screenshot(path=ARTIFACTS / "page-running.png", full_page=True)
    job.get_by_role("button", name="Cancel").click()
    expect(job.locator(".state")).to_have_text("Cancelled")
    expect(job.get_by_role("alert")).to_have_text("Task cancelled")
    expect(job.get_by_role("button", name="Cancel")).to_be_hidden()


def test_a_reload_keeps_the_job(page: Page, audio_root: Path) -> None:
    job = submit(page, audio_root / "long")
    task_id = job.get_attribute("data-task-id")
    expect(job.locator(".state")).to_have_text(re.compile("Queued|Running"))
    page.reload()
    expect(job).to_have_attribute("data-task-id", task_id)
    expect(job.locator(".state")).to_have_text("Done", timeout=DONE_WITHIN_MS)
    expect(job.locator(".batch-text pre")).to_contain_text("sister")

    page.reload()
    expect(job.locator(".state")).to_have_text("Done")
    expect(job.locator(".batch-text pre")).to_contain_text("sister")
    job.get_by_role("button", name="Remove from list").click()
    page.reload()
    expect(page.get_by_text("No jobs yet.")).to_be_visible()


def test_a_bad_folder_is_an_error_naming_it(page: Page, audio_root: Path) -> None:
    page.goto("/")
    missing = audio_root / "nowhere"
    page.get_by_label("Folder of audio files").fill(str(missing))
    page.get_by_role("button", name="Transcribe").click()
    expect(page.get_by_role("alert")).to_contain_text(str(missing))
    expect(page.locator(".job")).to_have_count(0)


def test_the_folder_field_offers_folders_with_their_audio_counts(page: Page, audio_root: Path) -> None:
    page.goto("/")
    page.get_by_label("Folder of audio files").fill(f"{audio_root}/ba")
    options = page.locator("#input-input_dir-suggestions option")
    expect(options).to_have_count(1)
    expect(options.first).to_have_attribute("value", str(audio_root / "batch"))
    expect(options.first).to_have_attribute("label", "3 matching files")


def test_the_transcript_grows_on_the_page_while_it_is_made(page: Page, service: str, audio_root: Path) -> None:
    job = submit(page, audio_root / "many")
    live = job.locator(".live")
    first_file = job.locator(".live .text").first
    # While the job runs, the first file's text is already there, and the live text grows.
    # (Waited for as present first: a negated text assertion passes at once on an element not
    # there yet.) The growth is the whole live area's: a file's text may be complete by the
    # time it is read (tiny.en does a clip in about a second), the next file's then grows.
    expect(first_file).to_be_visible(timeout=DONE_WITHIN_MS)
    expect(first_file).not_to_have_text("", timeout=DONE_WITHIN_MS)
    expect(job.locator(".state")).to_have_text("Running")
    first = first_file.text_content() or ""
    shown = live.text_content() or ""
    wait_for(lambda: len(live.text_content() or "") > len(shown), 60, "the live text to grow")
    page.screenshot(path=ARTIFACTS / "page-live-text.png", full_page=True)
    expect(job.locator(".state")).to_have_text("Done", timeout=DONE_WITHIN_MS)
    # The finished transcripts take its place, and begin with what was shown live.
    expect(job.locator(".live")).to_be_hidden()
    assert (job.locator(".batch-text pre").first.text_content() or "").startswith(first.strip())


def test_chosen_formats_and_mode_are_sent_and_each_written_file_downloads(
    page: Page, service: str, audio_root: Path
) -> None:
    page.goto("/")
    page.get_by_label("Transcript formats").fill("txt, srt, json")
    page.get_by_label("Mode").select_option("fast")
    job = submit(page, audio_root / "long")

    links = job.locator(".batch-text a.written")
    expect(links).to_have_text(["Download txt", "Download srt", "Download json"], timeout=DONE_WITHIN_MS)
    result = result_of(service, job)
    assert [f["name"] for f in result["texts"][0]["files"]] == ["story.txt", "story.srt", "story.json"]
    with page.expect_download() as download:
        links.nth(1).click()
    assert download.value.suggested_filename == "story.srt"
    srt = Path(download.value.path()).read_text(encoding="utf-8")
    assert srt == (Path(result["transcripts_dir"]) / "story.srt").read_text(encoding="utf-8")
    assert srt.startswith("1\n00:00:")


def stream_paths(page: Page) -> list[str]:
    """The path of every many-task stream the page opens from now on (a list that grows)."""
    opened: list[str] = []
    page.on("request", lambda request: "/events?" in request.url and opened.append(urlsplit(request.url).path))
    return opened


def test_another_endpoint_is_offered_and_its_job_followed_at_its_own_path(
    page: Page, service: str, audio_root: Path
) -> None:
    opened = stream_paths(page)
    batch = audio_root / "batch"
    page.goto("/")
    page.get_by_label("Folder of audio files").fill(str(batch))
    page.get_by_label("Task", exact=True).select_option("audio/inspect")
    # The form is the inspect endpoint's now: the folder typed stays, the options go.
    expect(page.get_by_label("Folder of audio files")).to_have_value(str(batch))
    expect(page.get_by_label("Mode")).to_have_count(0)
    expect(page.get_by_text("Options", exact=True)).to_be_hidden()
    page.get_by_role("button", name="Inspect audio files").click()

    job = page.get_by_role("article", name=str(batch), exact=True)
    expect(job.locator(".endpoint")).to_have_text("Inspect audio files")
    expect(job.locator(".state")).to_have_text("Done", timeout=DONE_WITHIN_MS)
    expect(job.locator(".description")).to_have_text("3 of 3 files done")
    expect(job.locator(".batch-text .name")).to_have_text(["train.WAV", "weather.mp3", "cooking.flac"])
    expect(job.locator(".batch-text pre").nth(1)).to_have_text("5.2 s, 16000 Hz, 1 channel, MP3 (MPEG audio layer 3)")
    # The rest of the result, generically: its list of rows as a table, its figures as facts.
    files = job.get_by_role("table", name="Files")
    expect(files.locator("tbody tr")).to_have_count(3)
    expect(files.locator("thead th", has_text="Duration seconds")).to_have_count(1)
    expect(files.locator("tbody tr").nth(1)).to_contain_text("weather.mp3")
    expect(job.locator("dd[data-key=total_duration_seconds]")).to_have_text(re.compile(r"^1[67]\.\d+$"))
    assert opened == ["/audio/inspect/events"], opened

    # After a reload the job is followed again at its own endpoint.
    page.reload()
    expect(job.locator(".state")).to_have_text("Done", timeout=DONE_WITHIN_MS)
    expect(job.get_by_role("table", name="Files").locator("tbody tr")).to_have_count(3)
    assert opened[1:] == ["/audio/inspect/events"], opened


def test_jobs_of_two_endpoints_run_side_by_side_a_stream_each(page: Page, service: str, audio_root: Path) -> None:
    opened = stream_paths(page)
    many = submit(page, audio_root / "many")
    expect(many.locator(".description")).to_contain_text("Transcribing", timeout=DONE_WITHIN_MS)
    page.get_by_label("Task", exact=True).select_option("audio/inspect")
    page.get_by_label("Folder of audio files").fill(str(audio_root / "long"))
    page.get_by_role("button", name="Inspect audio files").click()
    inspected = page.get_by_role("article", name=str(audio_root / "long"), exact=True)
    expect(inspected.locator(".state")).to_have_text(re.compile("Queued|Running"))

    # Cancel goes to the transcription's own endpoint; the inspection goes on to its result.
    many.get_by_role("button", name="Cancel").click()
    expect(many.locator(".state")).to_have_text("Cancelled", timeout=DONE_WITHIN_MS)
    expect(inspected.locator(".state")).to_have_text("Done", timeout=DONE_WITHIN_MS)
    expect(inspected.locator(".batch-text pre")).to_have_text([re.compile(r"MP3")])
    assert set(opened) == {"/audio/transcribe/events", "/audio/inspect/events"}, opened


def test_a_job_remembered_by_the_page_before_it_knew_endpoints_is_followed(
    page: Page, service: str, audio_root: Path
) -> None:
    """Jobs in localStorage from before: {task_id, result_url, events_url, folder, submittedAt}."""
    batch = audio_root / "batch"
    body = json.dumps({"inputs": {"input_dir": {"path": str(batch)}}}).encode()
    request = Request(f"{service}/audio/transcribe", body, {"Content-Type": "application/json"}, method="POST")
    with urlopen(request, timeout=10) as response:
        task = json.load(response)
    page.goto("/")
    old = [{**task, "folder": str(batch), "submittedAt": 0}]
    page.evaluate("(jobs) => localStorage.setItem('live-progress.jobs', JSON.stringify(jobs))", old)
    page.reload()
    expect_batch_transcribed(page.get_by_role("article", name=str(batch), exact=True), service)

"""A tabular training job in the page, end to end, in a real browser against the real service:
the page has no code of the tabular plugin's, only what GET /api/plugins and the job's events say."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.conftest import ARTIFACTS

pytest.importorskip("live_progress_tabular", reason="the tabular plugin (plugins/tabular) is not installed")
datasets = pytest.importorskip("tests.plugins.tabular.datasets")

pytestmark = pytest.mark.integration

DONE_WITHIN_MS = 60_000
TITLE = "Train a classifier on a CSV file"


def candidate_line(n_estimators: int, folds: int) -> re.Pattern[str]:
    """A candidate's live result as the plugin words it."""
    return re.compile(rf"^n_estimators={n_estimators}: accuracy 0\.\d{{3}} ± 0\.\d{{3}} \({folds} folds\)$")


@pytest.fixture(scope="module")
def tables(audio_root: Path) -> Path:
    """CSV files under the service's ALLOWED_ROOTS, from the datasets scikit-learn ships or makes."""
    folder = audio_root / "tables"
    datasets.iris_csv(folder / "iris.csv")
    datasets.generated_csv(folder / "long" / "generated.csv", rows=600, features=12, classes=3)
    return folder


@pytest.fixture
def page(browser: Browser, service: str) -> Iterator[Page]:
    context = browser.new_context(base_url=service, accept_downloads=True, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    errors: list[Exception] = []
    page.on("pageerror", lambda error: errors.append(error))
    yield page
    context.close()
    assert not errors, f"the page threw: {errors}"


def train(page: Page, csv_file: Path, target: str, grid: str, folds: int) -> Locator:
    """Fills the tabular endpoint's form (its fields come from its task_schema) and submits it."""
    page.goto("/")
    page.get_by_label("Task", exact=True).select_option("tabular/train")
    page.get_by_label("CSV file").fill(str(csv_file))
    page.get_by_label("Target column").fill(target)
    page.get_by_label("Values to try").fill(grid)
    page.get_by_label("Folds").fill(str(folds))
    page.get_by_role("button", name=TITLE).click()
    job = page.get_by_role("article", name=f"{csv_file} · {target}", exact=True)
    expect(job).to_be_visible()
    return job


def test_a_tabular_job_runs_in_the_page_to_its_ranking_and_model(page: Page, tables: Path) -> None:
    csv_file = tables / "iris.csv"
    job = train(page, csv_file, "species", "5, 10, 20", 3)
    expect(job.locator(".endpoint")).to_have_text(TITLE)
    expect(job).to_have_attribute("data-path", "tabular/train")

    # Each candidate's line, as the plugin words it, under the bar.
    lines = job.get_by_role("list", name="Live results").get_by_role("listitem")
    expect(lines).to_have_text([candidate_line(n, 3) for n in (5, 10, 20)], timeout=DONE_WITHIN_MS)
    expect(job.locator(".state")).to_have_text("Done", timeout=DONE_WITHIN_MS)
    expect(job.get_by_role("progressbar")).to_have_attribute("value", "100")

    # The result, generically: its ranked rows as a table, its fields as facts, its model to download.
    ranking = job.get_by_role("table", name="Ranking")
    expect(ranking.locator("tbody tr")).to_have_count(3)
    expect(ranking.locator("tbody tr td:first-child")).to_have_text(["1", "2", "3"])
    expect(ranking.locator("thead th").nth(1)).to_have_text("N estimators")
    expect(job.locator("dd[data-key=summary]")).to_contain_text("Best of 3: random_forest n_estimators=")
    expect(job.locator("dd[data-key=classes]")).to_have_text("setosa, versicolor, virginica")
    expect(job.locator("dd[data-key=rows]")).to_have_text("150")
    page.screenshot(path=ARTIFACTS / "tabular-page.png", full_page=True)

    with page.expect_download() as download:
        job.get_by_role("link", name="Download iris.random_forest.joblib").click()
    assert download.value.suggested_filename == "iris.random_forest.joblib"
    assert Path(download.value.path()).read_bytes() == (tables / "iris.random_forest.joblib").read_bytes()

    # After a reload the job is followed again at its endpoint: its lines and its result come back.
    page.reload()
    expect(job.locator(".state")).to_have_text("Done", timeout=DONE_WITHIN_MS)
    expect(lines).to_have_count(3)
    expect(job.get_by_role("table", name="Ranking").locator("tbody tr")).to_have_count(3)


def test_a_tabular_job_shows_candidates_while_it_runs_and_cancels(page: Page, tables: Path) -> None:
    job = train(page, tables / "long" / "generated.csv", "label", "20, 40, 60, 80, 100, 120", 5)
    first = job.get_by_role("list", name="Live results").get_by_role("listitem").first
    expect(first).to_have_text(candidate_line(20, 5), timeout=DONE_WITHIN_MS)
    expect(job.locator(".description")).to_contain_text("Fitting random_forest")
    expect(job.locator(".state")).to_have_text("Running")

    job.get_by_role("button", name="Cancel").click()
    expect(job.locator(".state")).to_have_text("Cancelled", timeout=DONE_WITHIN_MS)
    expect(job.get_by_role("alert")).to_have_text("Task cancelled")


def test_a_bad_column_is_an_error_naming_it(page: Page, tables: Path) -> None:
    page.goto("/")
    page.get_by_label("Task", exact=True).select_option("tabular/train")
    page.get_by_label("CSV file").fill(str(tables / "iris.csv"))
    page.get_by_label("Target column").fill("colour")
    page.get_by_role("button", name=TITLE).click()
    expect(page.get_by_role("alert")).to_contain_text("colour")
    expect(page.locator(".job")).to_have_count(0)

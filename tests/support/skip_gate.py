"""A run that must not pass by skipping: with ``LIVE_PROGRESS_NO_SKIPS=1`` (set by .ci/run), a test
that skips is a failure unless tests/allowed_skips.txt lists it with a reason.

On a developer's machine a missing browser or nginx skips the tests that need them, and says
so. In CI the day an image loses one of them, the suite would stay green while proving
nothing: there the skip fails the test, with its reason and where to list it. A module that
skips as a whole (``importorskip`` at its top) is no test report to turn into a failure:
it is listed at the end and the run's exit status is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

ENV = "LIVE_PROGRESS_NO_SKIPS"
ALLOW_LIST = Path(__file__).resolve().parents[1] / "allowed_skips.txt"


def enabled() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def read_allow_list(path: Path) -> dict[str, str]:
    """The allowed skips: test id -> reason, one ``<test id> | <reason>`` a line (``#`` begins a
    comment line). A line without a reason is refused: an allowed skip says why."""
    allowed = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        test_id, bar, reason = (part.strip() for part in line.partition("|"))
        if not bar or not test_id or not reason:
            raise pytest.UsageError(f"{path}:{number} has value {line!r}; it must be '<test id> | <reason>'")
        allowed[test_id] = reason
    return allowed


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


class SkipGate:
    def __init__(self, allowed: dict[str, str]) -> None:
        self.allowed = allowed
        self.refused_modules: list[tuple[str, str]] = []

    def is_allowed(self, nodeid: str) -> bool:
        """Listed as it is, or the test it is one case of (``test_x`` covers ``test_x[a]``)."""
        return nodeid in self.allowed or nodeid.split("[", 1)[0] in self.allowed

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
        report: pytest.TestReport = yield
        # An xfail is reported as skipped with ``wasxfail``: it is no skip (xfail_strict holds it).
        if report.skipped and not hasattr(report, "wasxfail") and not self.is_allowed(item.nodeid):
            report.outcome = "failed"
            report.longrepr = (
                f"Skipped ({skip_reason(report)}), and a skip fails this run ({ENV}=1): "
                f"give the test what it needs, or list it in {ALLOW_LIST.name} with a reason"
            )
        return report

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped and not self.is_allowed(report.nodeid):
            self.refused_modules.append((report.nodeid, skip_reason(report)))

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.refused_modules:
            terminalreporter.section(f"skipped as a whole, which fails this run ({ENV}=1)", red=True)
            for nodeid, reason in self.refused_modules:
                terminalreporter.line(f"{nodeid}: {reason}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.refused_modules and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def install(config: pytest.Config) -> None:
    """Registers the gate when ``LIVE_PROGRESS_NO_SKIPS`` is on (tests/conftest.py calls it)."""
    if enabled():
        config.pluginmanager.register(SkipGate(read_allow_list(ALLOW_LIST)), "live-progress-skip-gate")

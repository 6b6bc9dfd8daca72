"""The gate that keeps CI from passing by skipping (tests/support/skip_gate.py), on small suites
run by a pytest of their own; and the allow-list it reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.skip_gate import ALLOW_LIST, read_allow_list

pytest_plugins = ["pytester"]

SUITE = """
import pytest

def test_runs():
    pass

def test_skips():
    pytest.skip("no chromium here")

@pytest.mark.parametrize("case", ["a", "b"])
def test_allowed(case):
    pytest.skip("allowed: " + case)

@pytest.fixture
def browser():
    pytest.skip("no browser")

def test_needs_a_browser(browser):
    pass

@pytest.mark.xfail(reason="a known bug", strict=True)
def test_known_bug():
    assert False
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # a plain pytest: it starts faster
    pytester.makeconftest(
        """
from pathlib import Path
from tests.support.skip_gate import SkipGate, enabled, read_allow_list

def pytest_configure(config):
    if enabled():
        allowed = read_allow_list(Path(__file__).parent / "allowed.txt")
        config.pluginmanager.register(SkipGate(allowed), "gate")
"""
    )
    (pytester.path / "allowed.txt").write_text(
        "# a comment\n\ntest_suite.py::test_allowed | a skip this suite allows, with its reason\n"
    )
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_without_the_gate_skips_are_skips(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVE_PROGRESS_NO_SKIPS", raising=False)
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


def test_with_the_gate_a_skip_not_allowed_fails_and_says_why(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVE_PROGRESS_NO_SKIPS", "1")
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    # Both cases of the allowed test stay skips; the xfail stays an xfail; the other two fail.
    result.assert_outcomes(passed=1, skipped=2, failed=1, errors=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_needs_a_browser*",
            "Skipped (no browser), and a skip fails this run (LIVE_PROGRESS_NO_SKIPS=1)*",
            "*test_skips*",
            "Skipped (no chromium here), and a skip fails this run (LIVE_PROGRESS_NO_SKIPS=1)*",
        ]
    )


def test_with_the_gate_a_module_that_skips_as_a_whole_fails_the_run(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makepyfile(
        test_plugin='import pytest\npytest.importorskip("no_such_plugin")\n', test_other="def test_runs():\n    pass\n"
    )
    monkeypatch.setenv("LIVE_PROGRESS_NO_SKIPS", "1")
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "test_plugin.py", "test_other.py")
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*skipped as a whole*", "test_plugin.py: could not import 'no_such_plugin'*"])

    monkeypatch.delenv("LIVE_PROGRESS_NO_SKIPS")
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "test_plugin.py", "test_other.py")
    assert result.ret == pytest.ExitCode.OK


def test_an_allowed_skip_needs_a_reason(tmp_path: Path) -> None:
    listed = tmp_path / "allowed.txt"
    listed.write_text("tests/test_x.py::test_y\n")
    with pytest.raises(pytest.UsageError, match="it must be '<test id> | <reason>'"):
        read_allow_list(listed)
    listed.write_text("tests/test_x.py::test_y |  \n")
    with pytest.raises(pytest.UsageError):
        read_allow_list(listed)


def test_the_projects_allow_list_is_short_and_every_entry_has_a_reason() -> None:
    allowed = read_allow_list(ALLOW_LIST)
    assert len(allowed) <= 5, allowed
    assert all(reason for reason in allowed.values())

"""bench.chaos --quick against the real service: a minute of jobs under every fault that matters
(kill -9 of a worker mid-job, SIGSTOP, SIGTERM, kill -9 of a web process, a Redis restart), and
no violation: every watcher gets its result once, nothing twice, no percent back."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.mark.timeout(200)
def test_chaos_quick_ends_every_job_in_its_result(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.chaos", "--quick", "--plot", str(tmp_path / "chaos.png")]
    if os.environ.get("CHAOS_SEED"):  # replays a failed run's seed (it is printed)
        command += ["--seed", os.environ["CHAOS_SEED"]]
    started = time.monotonic()
    # On a timeout the benchmark is killed; its watchdog then kills what it started.
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    took = time.monotonic() - started
    print(run.stdout)
    print(f"bench.chaos --quick took {took:.0f} s")
    out = run.stdout
    assert "| fault | injected | on a job |" in out, run.stderr[-3000:]
    assert "| violations |" in out, run.stderr[-3000:]
    row = re.compile(r"^\| (SIG\w+ (?:worker|web process)|Redis restart) \| (\d+) \| (\S+) \|", re.M)
    injected = {kind: (int(count), on_job) for kind, count, on_job in row.findall(out)}
    assert injected["SIGKILL worker"][0] >= 1 and int(injected["SIGKILL worker"][1]) >= 1, injected
    assert injected["SIGSTOP worker"][0] >= 1, injected
    assert injected["SIGKILL web process"][0] >= 1, injected
    violations = out[out.find("Violations (") : out.find("Faults:")]
    assert run.returncode == 0, violations or run.stderr[-3000:]
    plot = tmp_path / "chaos.png"  # drawn: matplotlib is in the test extra
    assert plot.is_file() and plot.stat().st_size > 0, out[-2000:]

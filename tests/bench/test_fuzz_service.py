"""bench.fuzz with a bounded number of examples against the real service (uvicorn, Redis, a
Celery worker): every operation of its /openapi.json, every plugin's included, fuzzed while a
well-behaved client follows a real job of each over SSE. No 5xx, no failed check, nothing
missed by the followed streams, /healthz ok throughout."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

EXAMPLES = 8


@pytest.mark.timeout(600)
def test_the_fuzzed_api_answers_no_5xx_and_harms_no_client(capsys: pytest.CaptureFixture[str]) -> None:
    command = [sys.executable, "-m", "bench.fuzz", "--examples", str(EXAMPLES)]
    if os.environ.get("FUZZ_SEED"):  # replays a failed run's seed (it is printed)
        command += ["--seed", os.environ["FUZZ_SEED"]]
    # On a timeout the run gets SIGTERM and stops what it started.
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=540)
    with capsys.disabled():  # the seed and the example count belong in CI's log, passed or not
        print("\n" + run.stdout)
    table = dict(re.findall(r"^\| ([\w ]+?) \| (.+?) \|$", run.stdout, re.M))
    assert "examples" in table, run.stderr[-3000:]
    # Every plugin's operations were fuzzed: the audio and tabular endpoints are in the document.
    for path in ("POST /audio/transcribe", "POST /audio/inspect", "POST /tabular/train", "GET /tabular/train/events"):
        assert f"  {path}\n" in run.stdout
    assert int(table["examples"]) >= EXAMPLES * 30
    assert table["5xx"] == "0" and table["violations"] == "0", run.stdout[-6000:]
    assert table["client problems"] == "0", run.stdout[-6000:]
    assert int(table["followed jobs"].split()[0]) >= 3
    assert run.returncode == 0, run.stderr[-3000:]

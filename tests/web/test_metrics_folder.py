"""The multiprocess metrics folder of the web processes: who owns it, what a new service removes,
which live gauges a dead process leaves behind. Files only, no server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from live_progress.web.metrics_folder import Owner, claim, forget_dead, share_metrics


def dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_new_service_removes_the_files_of_the_one_before(tmp_path: Path) -> None:
    claim(tmp_path, Owner(1, "100"))
    (tmp_path / "counter_11.db").write_bytes(b"old")

    claim(tmp_path, Owner(2, "200"))

    assert list(tmp_path.glob("*.db")) == []


def test_a_process_of_the_same_service_keeps_its_files(tmp_path: Path) -> None:
    """uvicorn replaces a worker that died: the files of the dead one still count."""
    claim(tmp_path, Owner(1, "100"))
    (tmp_path / "counter_11.db").write_bytes(b"kept")

    claim(tmp_path, Owner(1, "100"))

    assert (tmp_path / "counter_11.db").read_bytes() == b"kept"


def test_a_pid_given_again_is_another_service(tmp_path: Path) -> None:
    claim(tmp_path, Owner(1, "100"))
    (tmp_path / "counter_11.db").write_bytes(b"old")

    claim(tmp_path, Owner(1, "999"))

    assert list(tmp_path.glob("*.db")) == []


def test_an_owner_lives_as_long_as_its_process() -> None:
    assert Owner.of(os.getpid()).alive()
    assert not Owner.of(dead_pid()).alive()
    assert not Owner(os.getpid(), "not its start").alive()
    assert Owner.parse(str(Owner.of(os.getpid()))) == Owner.of(os.getpid())


def test_the_live_gauges_of_a_dead_process_are_forgotten_its_counters_kept(tmp_path: Path) -> None:
    gone, here = dead_pid(), os.getpid()
    files = [f"gauge_livesum_{gone}.db", f"gauge_liveall_{gone}.db", f"counter_{gone}.db", f"gauge_livesum_{here}.db"]
    for name in files:
        (tmp_path / name).write_bytes(b"")

    forget_dead(tmp_path)

    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [f"counter_{gone}.db", f"gauge_livesum_{here}.db"]
    )


def test_a_process_alone_shares_nothing() -> None:
    # pytest runs in no multiprocessing child, and with no PROMETHEUS_MULTIPROC_DIR of its own.
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert share_metrics() is None


def test_the_web_process_module_leaves_prometheus_client_unimported() -> None:
    """uvicorn imports the factory's module first; prometheus_client must not be imported yet,
    or it would not see the folder the factory names (it reads PROMETHEUS_MULTIPROC_DIR once)."""
    code = "import sys, live_progress.web.process; print('prometheus_client' in sys.modules)"
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    imported = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "False"

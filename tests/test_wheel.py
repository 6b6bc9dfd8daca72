"""The wheel, installed outside the checkout: one top-level package, the data ``serve`` needs, and
``live-progress serve`` from a fresh venv running a job end to end.

Installing the dependencies from PyPI would take minutes, so the fresh venv sees those this venv
has installed instead: the distributions ``live-progress[web,worker,launch]`` requires, and theirs,
through a folder of links to their files one ``.pth`` line away, with the console scripts pip
would have written for them. Nothing else of this venv is seen (the checkout's editable install
and its finder, the test tools, other plugins): ``live_progress`` is imported from the wheel.
"""

from __future__ import annotations

import email
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse
from packaging.requirements import Requirement

from bench.measure import process_tree
from live_progress.launch.processes import wait_for
from live_progress.launch.redis_server import answers, free_port
from tests.conftest import ARTIFACTS, DATA, ROOT

pytestmark = pytest.mark.integration

DISTRIBUTION = "live-progress"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from the project (from a copy of it: a build writes build/ and
    *.egg-info beside the sources, and the checkout is not the build's to write in)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "live_progress", source / "live_progress", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", str(source), "--no-deps", "-q", "-w", str(out)], check=True, timeout=300)
    [built] = out.glob("*.whl")
    return built


def test_the_wheel_holds_one_package_with_the_procfile_and_the_page(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    top = {name.split("/")[0] for name in names}
    [dist_info] = top - {"live_progress"}
    assert dist_info.startswith("live_progress-") and dist_info.endswith(".dist-info"), top
    assert "live_progress/launch/Procfile" in names
    static = ROOT / "live_progress" / "web" / "static"
    pages = {f"live_progress/web/static/{path.relative_to(static).as_posix()}" for path in static.rglob("*")}
    assert pages <= names, sorted(pages - names)
    assert "live_progress/web/static/index.html" in names


def test_live_progress_serve_from_a_fresh_venv_runs_a_job(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    site = Path(run(python, "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path))
    deps = tmp_path / "deps"
    deps.mkdir()
    (site / "dependencies.pth").write_text(f"{deps}\n")
    # The launch extra is left out at first, to see serve say what to install.
    service = requirements_of(wheel, {"web", "worker"})
    expose(service, deps, python)
    # This venv's pip, run by the new venv's Python (pip --python): it installs there.
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(python), "install"]
    subprocess.run([*pip, "--no-deps", "--no-index", "-q", str(wheel)], check=True, cwd=tmp_path, timeout=120)

    where = run(python, "import live_progress, sys; print(live_progress.__file__, sys.meta_path)", cwd=tmp_path)
    assert where.startswith(str(site / "live_progress")), where
    assert "editable" not in where, where

    audio = tmp_path / "audio"
    audio.mkdir()
    shutil.copy(DATA / "batch" / "weather.mp3", audio)
    redis_port, port = free_port(), free_port()
    env = {
        **{key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "VIRTUAL_ENV"}},
        # Nothing of the checkout's venv on PATH: the Procfile's uvicorn and celery are the new venv's.
        "PATH": os.pathsep.join(
            [str(venv / "bin")] + [p for p in os.environ["PATH"].split(os.pathsep) if not p.startswith(str(ROOT))]
        ),
        "PORT": str(port),
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "REDIS_DATA_DIR": str(tmp_path / "redis-data"),
        "ALLOWED_ROOTS": str(audio),
        "WORKER_METRICS_PORT": "0",
        "PYTHONUNBUFFERED": "1",
    }
    serve = [str(venv / "bin" / "live-progress"), "serve"]

    # Without the launch extra, serve says what to install, and starts nothing.
    refused = subprocess.run(serve, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2, refused.stderr
    assert f"pip install '{DISTRIBUTION}[launch]'" in refused.stderr
    assert not answers("127.0.0.1", redis_port)

    expose(requirements_of(wheel, {"web", "worker", "launch"}) - service, deps, python)
    with served(serve, env, tmp_path, "wheel-serve") as (process, base_url):
        commands = [cmdline(pid) for pid in process_tree(process.pid)]
        pythons = [command for command in commands if "python" in command[0]]
        # The launcher, honcho, uvicorn and celery (and its pool), all the new venv's Python.
        assert len(pythons) >= 4, pythons
        assert all(command[0].startswith(str(venv)) for command in pythons), pythons
        assert any("uvicorn" in " ".join(command) for command in pythons), pythons
        assert any("celery" in " ".join(command) for command in pythons), pythons

        with httpx.Client(base_url=base_url, timeout=60) as client:
            submitted = client.post("/audio/transcribe", json={"inputs": {"input_dir": {"path": str(audio)}}})
            assert submitted.status_code == 202, submitted.text
            with connect_sse(client, "GET", submitted.json()["events_url"]) as source:
                events = [(sse.event, json.loads(sse.data)) for sse in source.iter_sse() if sse.data]
        kind, body = events[-1]
        assert kind == "result", events[-1]
        assert "weather" in body["root"]["texts"][0]["value"].lower()
        pids = process_tree(process.pid)

    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids), 15, "every process serve started to exit")
    assert not answers("127.0.0.1", redis_port), "the redis-server serve started is still running"


def run(python: Path, code: str, cwd: Path) -> str:
    return subprocess.run([str(python), "-c", code], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def requirements_of(wheel: Path, extras: set[str]) -> set[str]:
    """The distributions (normalised names) the wheel requires with ``extras``, and theirs, as
    this venv has them installed."""
    installed = installed_here()
    with zipfile.ZipFile(wheel) as archive:
        [name] = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        wanted = [(line, extras) for line in email.message_from_bytes(archive.read(name)).get_all("Requires-Dist")]
    needed: dict[str, set[str]] = {}  # each with the extras of its own already followed
    while wanted:
        line, parent_extras = wanted.pop()
        requirement = Requirement(line)
        environments = [{"extra": extra} for extra in parent_extras or {""}]
        if requirement.marker and not any(requirement.marker.evaluate(env) for env in environments):
            continue
        key = normalised(requirement.name)
        new = set(requirement.extras) - needed.get(key, set())
        if key in needed and not new:
            continue
        first = key not in needed
        needed.setdefault(key, set()).update(requirement.extras)
        assert key in installed, f"{key} ({line}) is not installed here"
        wanted += [(child, new if not first else set(requirement.extras)) for child in installed[key].requires or []]
    return set(needed)


def installed_here() -> dict[str, metadata.Distribution]:
    """This venv's distributions by normalised name (not the checkout's egg-info beside the tests)."""
    found = metadata.distributions(path=[sysconfig.get_path("purelib")])
    return {normalised(dist.metadata["Name"]): dist for dist in found}


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def expose(names: Iterable[str], deps: Path, python: Path) -> None:
    """Links each distribution's top-level files into ``deps``, and writes its console scripts
    into the venv of ``python`` as pip would have."""
    installed = installed_here()
    for dist in (installed[name] for name in names):
        assert dist.files is not None, f"{dist.metadata['Name']} has no RECORD"
        tops = {file.parts[0] for file in dist.files if file.parts[0] not in ("..", "__pycache__")}
        for top in tops:
            link = deps / top
            if not link.exists():
                link.symlink_to(Path(str(dist.locate_file(top))))
        for entry in dist.entry_points.select(group="console_scripts"):
            attribute = entry.attr or "main"
            script = python.parent / entry.name
            script.write_text(
                f"#!{python}\nimport sys\nfrom {entry.module} import {attribute.split('.')[0]}\n"
                f'if __name__ == "__main__":\n    sys.exit({attribute}())\n'
            )
            script.chmod(0o755)


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1] or [""]
    except OSError:
        return [""]


@contextmanager
def served(
    command: list[str], env: dict[str, str], cwd: Path, name: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``command`` until it serves; then stopped as Ctrl-C in a terminal stops it (the whole group)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        base_url = f"http://127.0.0.1:{env['PORT']}"

        def up() -> bool:
            assert process.poll() is None, (ARTIFACTS / f"{name}.log").read_text()
            try:
                return bool(httpx.get(f"{base_url}/healthz", timeout=1).json()["subscribed"])
            except httpx.TransportError:
                return False

        try:
            wait_for(up, 60, f"the service started by {' '.join(command)}")
            yield process, base_url
        finally:
            with suppress(ProcessLookupError):  # all of it may have exited already (a failed start)
                os.killpg(process.pid, signal.SIGINT)
            process.wait(30)

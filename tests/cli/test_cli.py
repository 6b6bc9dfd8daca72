"""The terminal client, run as the installed console script, against the real service."""

from __future__ import annotations

import json
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.request import Request, urlopen

import pytest

pytestmark = pytest.mark.integration

LIVE_PROGRESS = Path(sys.executable).parent / "live-progress"
TIMEOUT = 90


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    if not LIVE_PROGRESS.exists():
        pytest.fail(f"{LIVE_PROGRESS} is missing: `pip install -e .` installs the console script")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LIVE_PROGRESS), *args], capture_output=True, text=True, timeout=TIMEOUT)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Running:
    """A live-progress still running, whose stderr can be waited on line by line."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [str(LIVE_PROGRESS), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # As from a terminal: Ctrl-C's default disposition, even when this run's was ignored
            # (a shell starts background jobs with SIGINT ignored, and Python keeps it so).
            preexec_fn=_default_sigint,
        )
        self.stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for_line(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matched {pattern!r} within {timeout} s: {self.stderr}") from None
            if line is None:
                raise AssertionError(f"live-progress ended without a line matching {pattern!r}: {self.stderr}")
            self.stderr.append(line)
            if match := re.search(pattern, line):
                return match

    def finish(self) -> tuple[int, str, str]:
        """Waits for the exit; returns the exit code, stdout and all of stderr."""
        assert self.process.stdout is not None
        stdout = self.process.stdout.read()
        code = self.process.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        while (line := self._lines.get_nowait()) is not None:
            self.stderr.append(line)
        return code, stdout, "".join(self.stderr)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(TIMEOUT)
        assert self.process.stdout is not None and self.process.stderr is not None
        self.process.stdout.close()
        self.process.stderr.close()


@pytest.fixture
def start() -> Iterator[type[Running]]:
    started: list[Running] = []

    class Tracked(Running):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield Tracked
    for running in started:
        running.close()


def percents(stderr: str) -> list[int]:
    return [int(p) for p in re.findall(r"^\s*(\d+)%  ", stderr, re.MULTILINE)]


def result_of(service: str, task_id: str) -> dict:
    with urlopen(f"{service}/audio/transcribe/result/{task_id}", timeout=10) as response:
        return json.load(response)["root"]


def test_transcribe_follows_the_stream_then_prints_the_transcripts(service: str, audio_root: Path) -> None:
    batch = audio_root / "batch"
    done = run("transcribe", str(batch), "--url", service)

    assert done.returncode == 0, done.stderr
    assert f"Submitted {batch} as task " in done.stderr
    assert "over Server-Sent Events" in done.stderr
    assert "Transcribing weather.mp3 (2 of 3)" in done.stderr
    seen = percents(done.stderr)
    assert len(set(seen)) >= 2 and seen == sorted(seen), done.stderr
    titles = re.findall(r"^# (.+)$", done.stdout, re.MULTILINE)
    assert titles == [str(batch / "train.WAV"), str(batch / "weather.mp3"), str(batch / "sub" / "cooking.flac")]
    assert "london" in done.stdout.lower() and "onions" in done.stdout.lower()
    # The transcript as it was made, on stderr above the bar; the final one alone on stdout.
    live = re.findall(r"^\[(\S+) \d+:\d+\.\d-\d+:\d+\.\d\] (.*)$", done.stderr, re.MULTILINE)
    assert {name for name, _ in live} == {"train.WAV", "weather.mp3", "cooking.flac"}, done.stderr
    assert "weather" in " ".join(text for name, text in live if name == "weather.mp3").lower()
    quiet = run("transcribe", str(batch), "--url", service, "--no-segments")
    assert quiet.returncode == 0 and not re.search(r"^\[\S+ \d+:", quiet.stderr, re.MULTILINE), quiet.stderr


def test_poll_reaches_the_same_transcripts_and_output_writes_them(
    service: str, audio_root: Path, tmp_path: Path
) -> None:
    done = run(
        "transcribe", str(audio_root / "batch"), "--url", service, "--poll", "--interval", "0.2", "-o", str(tmp_path)
    )

    assert done.returncode == 0, done.stderr
    assert "Polling" in done.stderr and "Server-Sent Events" not in done.stderr
    assert f"Wrote 3 texts to {tmp_path}" in done.stderr
    assert done.stdout == ""
    written = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*.txt"))
    assert written == ["sub/cooking.txt", "train.txt", "weather.txt"]
    assert "london" in (tmp_path / "train.txt").read_text().lower()


def test_ctrl_c_detaches_and_watch_follows_to_the_end(service: str, audio_root: Path, start: type[Running]) -> None:
    # Six clips (about 12 s): one clip took tiny.en 2 s, which a Ctrl-C sent at its first
    # line could arrive after (the client then exits 0 with the transcript).
    following = start("transcribe", str(audio_root / "many"), "--url", service)
    task_id = following.wait_for_line(r"as task (\S+)")[1]
    following.wait_for_line("Transcribing story-")
    following.process.send_signal(signal.SIGINT)
    code, _, stderr = following.finish()

    assert code == 130, stderr
    again = stderr.strip().splitlines()[-1].strip()
    assert again == f"live-progress watch {task_id} --url {service}"

    watched = run(*shlex.split(again)[1:])
    assert watched.returncode == 0, watched.stderr
    assert f"# {audio_root / 'many' / 'story-5.mp3'}" in watched.stdout
    assert "sister" in watched.stdout


def test_a_cancelled_task_exits_3(service: str, audio_root: Path, start: type[Running]) -> None:
    following = start("transcribe", str(audio_root / "many"), "--url", service, "--poll", "--interval", "0.2")
    task_id = following.wait_for_line(r"as task (\S+)")[1]
    following.wait_for_line("Transcribing")
    with urlopen(Request(f"{service}/audio/transcribe/{task_id}", method="DELETE"), timeout=10) as response:
        assert response.status == 202
    code, stdout, stderr = following.finish()

    assert code == 3, stderr
    assert stderr.strip().endswith("Task cancelled")
    assert stdout == ""


def test_ctrl_c_with_cancel_on_interrupt_cancels(service: str, audio_root: Path, start: type[Running]) -> None:
    following = start("transcribe", str(audio_root / "many"), "--url", service, "--cancel-on-interrupt")
    task_id = following.wait_for_line(r"as task (\S+)")[1]
    following.wait_for_line("Transcribing")
    following.process.send_signal(signal.SIGINT)
    code, _, stderr = following.finish()

    assert code == 3, stderr
    assert f"Cancelling task {task_id}" in stderr
    assert result_of(service, task_id)["value"] == "Task cancelled"


def test_a_file_that_cannot_be_transcribed_exits_1(service: str, audio_root: Path) -> None:
    done = run("transcribe", str(audio_root / "with_corrupt"), "--url", service)

    assert done.returncode == 1, done.stderr
    broken = audio_root / "with_corrupt" / "broken.mp3"
    assert f"error: {broken}: Could not transcribe broken.mp3" in done.stderr
    assert "library" in done.stdout.lower()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["transcribe", "{root}/nowhere"], "{root}/nowhere"),
        (["watch", "00000000-0000-0000-0000-000000000000"], "00000000-0000-0000-0000-000000000000"),
    ],
)
def test_what_the_service_refuses_exits_2_naming_it(
    service: str, audio_root: Path, args: list[str], named: str
) -> None:
    done = run(*(arg.format(root=audio_root) for arg in args), "--url", service)

    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and named.format(root=audio_root) in last, done.stderr


def _submit(service: str, folder: Path) -> str:
    body = json.dumps({"inputs": {"input_dir": {"path": str(folder)}}}).encode()
    request = Request(
        f"{service}/audio/transcribe", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urlopen(request, timeout=10) as response:
        return str(json.load(response)["task_id"])


def test_watch_follows_several_tasks_over_one_stream(service: str, audio_root: Path) -> None:
    batch, corrupt = _submit(service, audio_root / "batch"), _submit(service, audio_root / "with_corrupt")
    done = run("watch", batch, corrupt, "--url", service)

    assert done.returncode == 1, done.stderr  # the worst of the two: a file could not be transcribed
    assert "Following 2 tasks" in done.stderr and "over one Server-Sent Events stream" in done.stderr
    for task_id in (batch, corrupt):
        assert re.search(rf"^{task_id[:8]}  100%  Done$", done.stderr, re.M), done.stderr
        assert f"Task {task_id}:" in done.stderr
    assert "london" in done.stdout.lower() and "library" in done.stdout.lower()
    assert f"error: {audio_root / 'with_corrupt' / 'broken.mp3'}: Could not transcribe" in done.stderr


def test_watch_of_several_with_an_unknown_one_exits_2_naming_it(service: str, audio_root: Path) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    done = run("watch", _submit(service, audio_root / "batch"), unknown, "--url", service)

    assert done.returncode == 2, done.stderr
    assert unknown in done.stderr.strip().splitlines()[-1]


def _submit_to(service: str, path: str, folder: Path) -> str:
    body = json.dumps({"inputs": {"input_dir": {"path": str(folder)}}}).encode()
    request = Request(f"{service}/{path}", data=body, method="POST", headers={"Content-Type": "application/json"})
    with urlopen(request, timeout=10) as response:
        return str(json.load(response)["task_id"])


def test_submit_runs_any_endpoint_from_its_schema(service: str, audio_root: Path) -> None:
    batch = audio_root / "batch"
    done = run("submit", "audio/inspect", "--input", f"input_dir={batch}", "--url", service)

    assert done.returncode == 0, done.stderr
    assert re.search(rf"^Submitted audio/inspect \(input_dir={batch}\) as task \S+$", done.stderr, re.M), done.stderr
    assert f"# {batch / 'weather.mp3'}\n5.2 s, 16000 Hz, 1 channel, MP3 (MPEG audio layer 3)\n" in done.stdout

    as_json = run("submit", "audio/inspect", "-i", f"input_dir={batch}", "--url", service, "--json", "--no-segments")
    assert as_json.returncode == 0, as_json.stderr
    result = json.loads(as_json.stdout)
    assert {Path(f["path"]).name for f in result["files"]} == {"train.WAV", "weather.mp3", "cooking.flac"}


def test_submit_types_the_parameters_as_the_schema_says(service: str, audio_root: Path) -> None:
    long = audio_root / "long"
    done = run(
        "submit", "audio/transcribe", "-i", f"input_dir={long}", "-p", "formats=txt, srt", "-p", "mode=fast",
        "--url", service,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    task_id = re.search(r"as task (\S+)", done.stderr)[1]  # type: ignore[index]
    assert [f["name"] for f in result_of(service, task_id)["texts"][0]["files"]] == ["story.txt", "story.srt"]
    assert "sister" in done.stdout


def test_watch_finds_the_endpoint_of_each_task(service: str, audio_root: Path) -> None:
    inspected = _submit_to(service, "audio/inspect", audio_root / "batch")
    alone = run("watch", inspected, "--url", service)
    assert alone.returncode == 0, alone.stderr
    assert "MP3 (MPEG audio layer 3)" in alone.stdout
    named = run("watch", inspected, "--url", service, "--endpoint", "audio/inspect")
    assert named.returncode == 0 and named.stdout == alone.stdout, named.stderr

    # Tasks of two endpoints: a stream each, a bar each, a report each.
    transcribed = _submit_to(service, "audio/transcribe", audio_root / "long")
    both = run("watch", transcribed, inspected, "--url", service)
    assert both.returncode == 0, both.stderr
    assert "Following 2 tasks" in both.stderr and "over 2 Server-Sent Events streams" in both.stderr
    for task_id in (transcribed, inspected):
        assert re.search(rf"^{task_id[:8]}  100%  Done$", both.stderr, re.M), both.stderr
    assert "sister" in both.stdout and "MP3 (MPEG audio layer 3)" in both.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["submit", "audio/nothing", "-i", "input_dir=/x"], "'audio/nothing'"),
        (["submit", "audio/inspect"], "audio/inspect needs --input input_dir=… (Folder of audio files)"),
        (["submit", "audio/inspect", "-i", "input_dir={root}/nowhere"], "{root}/nowhere"),
        (
            ["submit", "audio/transcribe", "-i", "input_dir={root}/batch", "-p", "mode=slow"],
            "--param mode has value 'slow'; it must be one of accurate, fast",
        ),
        (["transcribe", "{root}/batch", "-p", "speed=2"], "--param 'speed': audio/transcribe has no such param"),
    ],
)
def test_a_submit_that_does_not_fit_exits_2_naming_it(
    service: str, audio_root: Path, args: list[str], named: str
) -> None:
    done = run(*(arg.format(root=audio_root) for arg in args), "--url", service)

    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and named.format(root=audio_root) in done.stderr, done.stderr


@pytest.fixture(scope="module")
def iris(audio_root: Path) -> Path:
    """A CSV file under ALLOWED_ROOTS, from the iris data set scikit-learn ships."""
    pytest.importorskip("live_progress_tabular", reason="the tabular plugin (plugins/tabular) is not installed")
    datasets = pytest.importorskip("tests.plugins.tabular.datasets")
    return Path(datasets.iris_csv(audio_root / "cli-tables" / "iris.csv"))


def test_submit_a_tabular_job_writes_its_result_and_downloads_its_model(
    iris: Path, service: str, tmp_path: Path
) -> None:
    done = run(
        "submit", "tabular/train", "-i", f"csv_file={iris}", "-i", "target=species",
        "-p", "family=decision_tree", "-p", "grid=2, 4", "-p", "folds=3",
        "--url", service, "--output", str(tmp_path), "--json",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    lines = re.findall(r"^max_depth=(\d+): accuracy 0\.\d{3} ± 0\.\d{3} \(3 folds\)$", done.stderr, re.M)
    assert lines == ["2", "4"], done.stderr
    assert done.stdout == ""
    result = json.loads((tmp_path / "result.json").read_text())
    assert [row["rank"] for row in result["ranking"]] == [1, 2]
    assert f"Wrote the result to {tmp_path / 'result.json'}" in done.stderr
    assert "Downloaded 1 file to" in done.stderr
    assert (tmp_path / "iris.decision_tree.joblib").read_bytes() == (
        iris.parent / "iris.decision_tree.joblib"
    ).read_bytes()


def test_watch_follows_tasks_of_two_plugins_at_once(iris: Path, service: str, audio_root: Path) -> None:
    body = {"inputs": {"csv_file": {"path": str(iris)}, "target": {"text": "species"}}, "parameters": {"folds": 3}}
    request = Request(
        f"{service}/tabular/train", json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urlopen(request, timeout=10) as response:
        trained = str(json.load(response)["task_id"])
    inspected = _submit_to(service, "audio/inspect", audio_root / "batch")
    done = run("watch", trained, inspected, "--url", service)

    assert done.returncode == 0, done.stderr
    assert "over 2 Server-Sent Events streams" in done.stderr
    assert re.search(rf"^{trained[:8]}  n_estimators=\d+: accuracy", done.stderr, re.M), done.stderr
    assert re.search(r"^summary: Best of 4: random_forest", done.stdout, re.M), done.stdout
    assert re.search(r"^ranking:\n  rank +n_estimators +accuracy_mean", done.stdout, re.M), done.stdout
    assert "MP3 (MPEG audio layer 3)" in done.stdout
    assert "Files: iris.random_forest.joblib" in done.stderr and "--output DIR downloads them" in done.stderr

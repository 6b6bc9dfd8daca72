"""py-spy on the web process during a measured window, and the frames it spent its time in."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


class Profiler:
    """Samples a process with ``py-spy record`` (raw collapsed stacks) from start() to stop()."""

    def __init__(self, output: Path, rate: int = 400) -> None:
        self.output = output
        self.rate = rate
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> str | None:
        return shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))

    def start(self, pid: int, timeout: float = 600) -> None:
        binary = self.available()
        if binary is None:
            raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        # Pausing the process for each sample (py-spy's default) costs a little time but gives
        # whole stacks; this run is only for the profile, its figures are not reported.
        self._process = subprocess.Popen(
            [
                binary,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(round(timeout)),
                "--rate",
                str(self.rate),
                "--format",
                "raw",
                "--output",
                str(self.output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        """Ends the sampling; py-spy writes its file on SIGINT as on Ctrl-C."""
        if self._process is not None:
            self._process.send_signal(signal.SIGINT)
            self._process.wait(60)
            self._process = None


@dataclass(frozen=True)
class Profile:
    samples: int
    own: list[tuple[str, int]]  # frames by the samples they were on top of the stack
    inclusive: list[tuple[str, int]]  # frames by the samples they were anywhere on the stack


# Frames every sample of the event loop passes through: no news in a list "with callees".
_ROOT_FRAMES = re.compile(r"\((<frozen runpy>|click/|uvicorn/(main|server|_compat|__main__)\.py|asyncio/runners\.py)")
_LINE = re.compile(r":\d+\)$")


def top_frames(collapsed: Path, count: int = 20) -> Profile:
    """Functions (lines folded together) by own samples and by samples with their callees."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack:
            continue
        n = int(samples)
        frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            if not _ROOT_FRAMES.search(frame):
                inclusive[frame] += n
    return Profile(total, own.most_common(count), inclusive.most_common(count))


def print_profile(watchers: int, profile: Profile) -> None:
    print(f"\npy-spy on the web process at {watchers:,} watchers over the writes, {profile.samples:,} samples")
    print("  (Runner.run's own time is the event loop itself: uvloop's C code, the system calls it makes)")
    for title, frames in (("own time", profile.own), ("with callees", profile.inclusive)):
        print(f"  by {title}:")
        for frame, n in frames:
            print(f"    {100 * n / max(profile.samples, 1):5.1f} %  {frame}")

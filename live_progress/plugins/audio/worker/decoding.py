"""A file's decoded samples, shared within a worker process and released when its task ends.

Splitting a long file finds its pauses in the decoded audio (live_progress/plugins/audio/worker/pieces.py), and each of
its pieces is transcribed from a stretch of the same samples (live_progress/plugins/audio/worker/transcription.py); a
worker often gets several pieces of one file in a row. Decoding takes seconds for a long
file and its samples are large (16 kHz float32: about 38 MB for 10 minutes, 690 MB for 3
hours), so a process keeps one file's at most, and only for as long as a task uses them
(``release``, called when any task ends: ``release_after_tasks``, which live_progress/worker/main.py installs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from celery.signals import task_postrun

if TYPE_CHECKING:
    from celery import Celery

Decode = Callable[[str, int], Any]


def _decode_audio(path: str, rate: int) -> Any:
    from faster_whisper.audio import decode_audio

    return decode_audio(path, sampling_rate=rate)


class LastDecoded:
    """The samples of the last file asked for, decoded again if the file changed since."""

    def __init__(self, decode: Decode = _decode_audio) -> None:
        self._decode = decode
        self._lock = threading.Lock()
        self._key: tuple[str, int, int, int] | None = None
        self._samples: Any = None

    def samples(self, path: Path, rate: int) -> Any:
        """The whole file at ``rate`` Hz, mono float32 (faster-whisper's decode_audio)."""
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, rate)
        with self._lock:
            if key != self._key:
                # Let go of the last file before decoding the next: one at a time in memory.
                self._key = self._samples = None
                self._samples = self._decode(str(path), rate)
                self._key = key
            return self._samples

    def stretch(self, path: Path, start: float, end: float | None, rate: int) -> Any:
        """The samples from ``start`` to ``end`` seconds (None: the file's end) at ``rate`` Hz;
        a view, not a copy."""
        return self.samples(path, rate)[int(start * rate) : None if end is None else int(end * rate)]

    def release(self) -> None:
        with self._lock:
            self._key = self._samples = None

    @property
    def holding(self) -> bool:
        return self._samples is not None


# The worker process's: the pause-finding and every piece's transcription share it.
DECODED = LastDecoded()


def release_after_tasks(celery: Celery) -> None:
    """Let go of the decoded file when any task of ``celery``'s ends, however it ends: an idle
    worker holds no samples."""

    def on_postrun(sender: Any = None, **_: Any) -> None:
        if sender is not None and sender.app is celery:
            DECODED.release()

    task_postrun.connect(on_postrun, weak=False, dispatch_uid=f"decoded-release-{id(celery)}")

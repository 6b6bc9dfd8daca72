"""Where the speech model runs: the device, the compute type and the CPU threads, chosen once
when the worker starts, from WHISPER_DEVICE, WHISPER_COMPUTE_TYPE, WHISPER_CPU_THREADS and what
CTranslate2 sees on this machine.

CTranslate2 is asked in a child process of its own: the CUDA driver, once set up in a process,
does not work in the processes forked from it, and Celery forks its pool from the process that
starts the worker.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from celery import Celery
from celery.signals import worker_init, worker_ready

from live_progress.plugins.audio.settings import AudioSettings, ComputeTypeChoice, DeviceChoice

logger = logging.getLogger(__name__)

Device = Literal["cpu", "cuda"]
# What ``auto`` takes on each device: the first of these that CTranslate2 can run there.
_FITTING: dict[Device, tuple[str, ...]] = {"cpu": ("int8", "float32"), "cuda": ("float16", "int8", "float32")}
# CTranslate2's threads per model when given 0, unless OMP_NUM_THREADS says otherwise (its
# src/utils.cc: the fewer of this and the machine's cores).
_CT2_THREADS = 4
# The cuBLAS that CTranslate2's Linux wheels load when a model first runs on CUDA.
CUBLAS = "libcublas.so.12"


class DeviceError(RuntimeError):
    """The device or compute type asked for cannot be had on this machine."""


@dataclass(frozen=True, slots=True)
class Hardware:
    """What CTranslate2 sees: how many CUDA devices, the compute types it can run on each
    device it sees, and why cuBLAS could not be loaded (None: it could, or no device needs it)."""

    cuda_devices: int
    compute_types: Mapping[str, frozenset[str]]
    cublas_error: str | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the model runs, as CTranslate2 is asked for it; ``why`` says how it was chosen."""

    device: Device
    compute_type: str
    cpu_threads: int
    why: str = field(default="", compare=False)

    def __str__(self) -> str:
        threads = f"{self.cpu_threads} CPU thread{'' if self.cpu_threads == 1 else 's'}"
        return f"{self.device}, compute type {self.compute_type}, {threads}"


def choose_placement(
    device: DeviceChoice,
    compute_type: ComputeTypeChoice,
    cpu_threads: int,
    hardware: Hardware,
    omp_num_threads: str | None = None,
    cpu_count: int | None = None,
) -> Placement:
    """The placement for these settings on ``hardware``, or a DeviceError naming the setting
    that cannot be had. ``omp_num_threads`` and ``cpu_count`` decide what ``cpu_threads`` 0
    means, as they do for CTranslate2."""
    found = hardware.cuda_devices
    seen = f"CTranslate2 sees {found or 'no'} CUDA device{'' if found < 2 else 's'}"
    if device == "cuda" and not found:
        raise DeviceError(
            f"WHISPER_DEVICE is 'cuda' but {seen} (no NVIDIA GPU, or no driver for it); "
            "set WHISPER_DEVICE=cpu, or auto to use a GPU only where there is one"
        )
    if device == "cuda" and hardware.cublas_error is not None:
        raise DeviceError(
            f"WHISPER_DEVICE is 'cuda' and {seen}, but CTranslate2 needs {CUBLAS} (cuBLAS for CUDA 12), "
            f"which cannot be loaded: {hardware.cublas_error}"
        )
    if device == "auto":
        if found and hardware.cublas_error is None:
            chosen: Device = "cuda"
            why = f"WHISPER_DEVICE=auto and {seen}"
        elif found:
            chosen = "cpu"
            why = f"WHISPER_DEVICE=auto: {seen} but cannot load {CUBLAS} ({hardware.cublas_error})"
        else:
            chosen = "cpu"
            why = f"WHISPER_DEVICE=auto and {seen}"
    elif device == "cuda":
        chosen = "cuda"
        why = f"WHISPER_DEVICE=cuda and {seen}"
    else:
        chosen = "cpu"
        why = "WHISPER_DEVICE=cpu"
    supported = hardware.compute_types.get(chosen, frozenset())
    if compute_type == "auto":
        resolved = next((name for name in _FITTING[chosen] if name in supported), "default")
        why += f"; WHISPER_COMPUTE_TYPE=auto fits {resolved} to {chosen}"
    elif compute_type == "default" or compute_type in supported:
        resolved = compute_type
    else:
        raise DeviceError(
            f"WHISPER_COMPUTE_TYPE is {compute_type!r}, which CTranslate2 cannot run on {chosen} here "
            f"({why}); it can run {', '.join(sorted(supported)) or 'none'} there, or 'auto' picks one"
        )
    threads = cpu_threads or default_threads(omp_num_threads, cpu_count)
    return Placement(chosen, resolved, threads, why)


def default_threads(omp_num_threads: str | None, cpu_count: int | None) -> int:
    """What CTranslate2 takes for 0 threads: OMP_NUM_THREADS when it is a count, else the fewer
    of 4 and the machine's cores."""
    try:
        given = int(omp_num_threads or "")
    except ValueError:
        given = 0
    return given if given > 0 else min(_CT2_THREADS, cpu_count or _CT2_THREADS)


# Run by probe_hardware in a child process; prints one JSON line.
_PROBE = f"""
import ctypes, json, sys
import ctranslate2
count = ctranslate2.get_cuda_device_count()
types = {{"cpu": sorted(ctranslate2.get_supported_compute_types("cpu"))}}
cublas = None
if count:
    types["cuda"] = sorted(ctranslate2.get_supported_compute_types("cuda"))
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL({CUBLAS!r})
        except OSError as exc:
            cublas = str(exc)
print(json.dumps({{"cuda_devices": count, "compute_types": types, "cublas_error": cublas}}))
"""


def probe_hardware(timeout: float = 120) -> Hardware:
    """What CTranslate2 sees on this machine, asked in a child process (CUDA_VISIBLE_DEVICES
    and LD_LIBRARY_PATH are this process's)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise DeviceError(f"CTranslate2 did not say within {timeout:g} s which devices it sees") from exc
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        said = (done.stderr.strip().splitlines() or ["nothing"])[-1]
        raise DeviceError(f"Could not ask CTranslate2 which devices it sees (exit code {done.returncode}): {said}")
    found = json.loads(lines[-1])
    return Hardware(
        cuda_devices=int(found["cuda_devices"]),
        compute_types={device: frozenset(names) for device, names in found["compute_types"].items()},
        cublas_error=found["cublas_error"],
    )


def place(settings: AudioSettings, hardware: Hardware | None = None) -> Placement:
    """The placement ``settings`` ask for on this machine (``hardware``: as probed now)."""
    return choose_placement(
        settings.whisper_device,
        settings.whisper_compute_type,
        settings.cpu_threads,
        probe_hardware() if hardware is None else hardware,
        os.environ.get("OMP_NUM_THREADS"),
        os.cpu_count(),
    )


def install_placement(celery: Celery, settings: AudioSettings) -> Callable[[], Placement]:
    """Choose the placement when ``celery``'s worker starts, before its pool does: one that cannot
    be had stops the worker there, with the reason. Once it is ready, the worker logs it and, when
    it serves metrics, shows it as ``live_progress_worker_speech_model_info``. Returns what the
    tasks call for it (which chooses on first use where no worker started: a test's own process)."""
    chosen: list[Placement] = []

    def placement() -> Placement:
        if not chosen:
            chosen.append(place(settings))
        # The threads are the pool process's share of the CPUs, known once Celery settled the
        # pool (after worker_init, where the device is chosen): asked again each time.
        return dataclasses.replace(chosen[0], cpu_threads=settings.cpu_threads)

    def on_init(sender: Any = None, **_: Any) -> None:
        if sender is None or sender.app is not celery:
            return
        try:
            placement()
        except DeviceError as exc:
            # Celery logs an exception of a signal handler and carries on; this ends the worker
            # before its pool starts (logging is not set up yet: the message goes to stderr).
            raise SystemExit(f"The worker cannot start: {exc}") from exc

    def on_ready(sender: Any = None, **_: Any) -> None:
        if sender is None or sender.app is not celery:
            return
        where = placement()
        logger.info("Speech model %s on %s (%s)", settings.whisper_model or "tiny.en", where, where.why)
        show_placement(where)

    worker_init.connect(on_init, weak=False, dispatch_uid=f"audio-placement-init-{id(celery)}")
    worker_ready.connect(on_ready, weak=False, dispatch_uid=f"audio-placement-ready-{id(celery)}")
    return placement


def show_placement(where: Placement) -> None:
    """``live_progress_worker_speech_model_info{device, compute_type, cpu_threads} 1`` in the
    worker's metrics, when it serves them (live_progress/worker/metrics.py set the folder up)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from prometheus_client import Gauge

    # Written to this process's file in the folder, which the worker's scrape reads: no
    # registry of its own (a second app in one process would find the name taken).
    gauge = Gauge(
        "live_progress_worker_speech_model_info",
        "Where this worker runs the speech model: device, compute type, CPU threads",
        ["device", "compute_type", "cpu_threads"],
        multiprocess_mode="max",
        registry=None,
    )
    gauge.labels(where.device, where.compute_type, str(where.cpu_threads)).set(1)

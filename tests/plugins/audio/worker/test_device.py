"""Where the speech model runs: WHISPER_DEVICE and WHISPER_COMPUTE_TYPE against what CTranslate2
sees (a Hardware built here in place of CTranslate2's answer), what a worker on this machine (no
GPU) chooses, loads, logs and shows in its metrics, and a worker that asks for CUDA not starting."""

from __future__ import annotations

from pathlib import Path

import ctranslate2
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from live_progress.launch.processes import start_worker
from live_progress.launch.redis_server import RedisServer, free_port
from live_progress.plugins.audio.settings import AudioSettings
from live_progress.plugins.audio.worker.device import (
    DeviceError,
    Hardware,
    Placement,
    choose_placement,
    place,
    probe_hardware,
)
from live_progress.plugins.audio.worker.model import load_model
from live_progress.settings import SettingsError
from tests.conftest import ARTIFACTS

# What CTranslate2 4.8 says on a CPU without a GPU (this machine), and with one GPU of compute
# capability 8.x beside it.
CPU_TYPES = frozenset({"float32", "int8", "int8_float32"})
GPU_TYPES = frozenset({"float32", "float16", "bfloat16", "int8", "int8_float16", "int8_bfloat16", "int8_float32"})
NO_GPU = Hardware(cuda_devices=0, compute_types={"cpu": CPU_TYPES})
ONE_GPU = Hardware(cuda_devices=1, compute_types={"cpu": CPU_TYPES, "cuda": GPU_TYPES})
TWO_GPUS = Hardware(cuda_devices=2, compute_types={"cpu": CPU_TYPES, "cuda": GPU_TYPES})
GPU_WITHOUT_CUBLAS = Hardware(
    cuda_devices=1,
    compute_types={"cpu": CPU_TYPES, "cuda": GPU_TYPES},
    cublas_error="libcublas.so.12: cannot open shared object file: No such file or directory",
)


@pytest.mark.parametrize(
    ("device", "compute_type", "hardware", "chosen"),
    [
        pytest.param("auto", "auto", NO_GPU, ("cpu", "int8"), id="no-device-cpu-int8"),
        pytest.param("auto", "auto", ONE_GPU, ("cuda", "float16"), id="one-device-cuda-float16"),
        pytest.param("auto", "auto", TWO_GPUS, ("cuda", "float16"), id="two-devices-cuda-float16"),
        pytest.param("cpu", "auto", ONE_GPU, ("cpu", "int8"), id="cpu-wins-over-a-device"),
        pytest.param("auto", "int8_float16", ONE_GPU, ("cuda", "int8_float16"), id="compute-type-wins-on-cuda"),
        pytest.param("auto", "float32", NO_GPU, ("cpu", "float32"), id="compute-type-wins-on-cpu"),
        pytest.param("cuda", "auto", ONE_GPU, ("cuda", "float16"), id="cuda-with-a-device"),
        pytest.param("cpu", "default", NO_GPU, ("cpu", "default"), id="default-is-the-models-own"),
        pytest.param("auto", "auto", GPU_WITHOUT_CUBLAS, ("cpu", "int8"), id="device-without-cublas-cpu"),
    ],
)
def test_the_device_and_compute_type_chosen(
    device: str, compute_type: str, hardware: Hardware, chosen: tuple[str, str]
) -> None:
    placement = choose_placement(device, compute_type, 1, hardware)  # type: ignore[arg-type]

    assert (placement.device, placement.compute_type) == chosen


def test_auto_says_why_it_chose() -> None:
    assert choose_placement("auto", "auto", 1, NO_GPU).why == (
        "WHISPER_DEVICE=auto and CTranslate2 sees no CUDA device; WHISPER_COMPUTE_TYPE=auto fits int8 to cpu"
    )
    assert choose_placement("auto", "auto", 1, TWO_GPUS).why.startswith(
        "WHISPER_DEVICE=auto and CTranslate2 sees 2 CUDA devices;"
    )
    assert "cannot load libcublas.so.12 (libcublas.so.12: cannot open" in (
        choose_placement("auto", "auto", 1, GPU_WITHOUT_CUBLAS).why
    )


def test_cuda_without_a_device_is_an_error_naming_the_setting() -> None:
    with pytest.raises(DeviceError, match="^WHISPER_DEVICE is 'cuda' but CTranslate2 sees no CUDA device"):
        choose_placement("cuda", "auto", 0, NO_GPU)


def test_cuda_without_cublas_is_an_error_naming_the_library() -> None:
    with pytest.raises(DeviceError, match="needs libcublas.so.12 .*which cannot be loaded: libcublas.so.12: cannot"):
        choose_placement("cuda", "auto", 0, GPU_WITHOUT_CUBLAS)


def test_a_compute_type_the_device_cannot_run_is_an_error_naming_it_and_the_ones_it_can() -> None:
    with pytest.raises(DeviceError) as raised:
        choose_placement("auto", "float16", 0, NO_GPU)

    assert str(raised.value).startswith("WHISPER_COMPUTE_TYPE is 'float16', which CTranslate2 cannot run on cpu here")
    assert "it can run float32, int8, int8_float32 there" in str(raised.value)


@pytest.mark.parametrize(
    ("cpu_threads", "omp_num_threads", "cpu_count", "threads"),
    [
        pytest.param(1, "8", 16, 1, id="the-setting-wins"),
        pytest.param(0, None, 2, 2, id="fewer-cores-than-four"),
        pytest.param(0, None, 16, 4, id="four-of-many-cores"),
        pytest.param(0, None, None, 4, id="cores-unknown"),
        pytest.param(0, "3", 16, 3, id="omp-num-threads"),
        pytest.param(0, "many", 16, 4, id="omp-num-threads-not-a-count"),
        pytest.param(0, "0", 2, 2, id="omp-num-threads-zero"),
    ],
)
def test_the_cpu_threads_are_ctranslate2s_own_default_unless_set(
    cpu_threads: int, omp_num_threads: str | None, cpu_count: int | None, threads: int
) -> None:
    assert choose_placement("cpu", "auto", cpu_threads, NO_GPU, omp_num_threads, cpu_count).cpu_threads == threads


@pytest.mark.parametrize(
    ("name", "raw", "says"),
    [
        pytest.param("WHISPER_DEVICE", "gpu", "Input should be 'auto', 'cpu' or 'cuda'", id="device-gpu"),
        pytest.param("WHISPER_DEVICE", "CUDA", "Input should be 'auto', 'cpu' or 'cuda'", id="device-upper-case"),
        pytest.param("WHISPER_COMPUTE_TYPE", "fp16", "Input should be 'auto', 'default', 'int8'", id="compute-fp16"),
    ],
)
def test_a_bad_device_setting_names_the_variable_and_value(name: str, raw: str, says: str) -> None:
    with pytest.raises(SettingsError) as raised:
        AudioSettings.load(**{name: raw})

    assert str(raised.value).startswith(f"Setting {name!r} has value {raw!r}. {says}")


def test_the_probe_says_what_ctranslate2_says_in_this_process() -> None:
    hardware = probe_hardware()

    assert hardware.cuda_devices == ctranslate2.get_cuda_device_count()
    assert hardware.compute_types["cpu"] == ctranslate2.get_supported_compute_types("cpu")


def test_the_default_settings_load_the_model_on_the_cpu_as_int8_on_this_machine() -> None:
    """This machine has no GPU: the defaults resolve to the CPU, int8, and the model runs there."""
    placement = place(AudioSettings())
    model = load_model(None, placement.cpu_threads, placement.device, placement.compute_type)

    assert (placement.device, placement.compute_type) == ("cpu", "int8")
    # CTranslate2's name for int8 weights with float32 for the rest.
    assert (model.model.device, model.model.compute_type) == ("cpu", "int8_float32")


def info_samples(port: int) -> list[dict[str, str]]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return [
        sample.labels
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "live_progress_worker_speech_model_info" and sample.value == 1
    ]


@pytest.mark.integration
def test_a_worker_logs_and_shows_where_it_runs_the_model(
    redis_server: RedisServer, service_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **service_env,
        "REDIS_URL": redis_server.database_url(28),
        "WORKER_METRICS_PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "worker-metrics"),
        "WHISPER_CPU_THREADS": "1",
    }
    worker = start_worker(env, ARTIFACTS, name="worker-device")
    try:
        expected = Placement("cpu", "int8", 1)
        assert f"Speech model tiny.en on {expected} (WHISPER_DEVICE=auto and CTranslate2 sees no CUDA device;" in (
            worker.log()
        )
        assert info_samples(port) == [{"device": "cpu", "compute_type": "int8", "cpu_threads": "1"}]
    finally:
        worker.stop()


@pytest.mark.integration
def test_a_worker_asked_for_cuda_without_a_device_does_not_start(
    redis_server: RedisServer, service_env: dict[str, str]
) -> None:
    env = {**service_env, "REDIS_URL": redis_server.database_url(28), "WHISPER_DEVICE": "cuda"}

    with pytest.raises(RuntimeError, match="The worker exited") as raised:
        start_worker(env, ARTIFACTS, name="worker-cuda")

    assert "The worker cannot start: WHISPER_DEVICE is 'cuda' but CTranslate2 sees no CUDA device" in str(raised.value)

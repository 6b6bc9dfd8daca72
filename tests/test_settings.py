"""The settings models, built directly: the constructor's values are what a variable would hold."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from live_progress.launch.settings import LaunchSettings
from live_progress.plugins.audio.settings import DEFAULT_TRANSCRIPTS_DIR, AudioSettings
from live_progress.settings import SettingsError, SharedSettings
from live_progress.web.settings import LOCAL_HOSTS, Settings
from live_progress.worker.settings import WorkerSettings

LOCAL_REDIS = "redis://127.0.0.1:6379/0"
BOTH = [pytest.param(Settings, id="web"), pytest.param(WorkerSettings, id="worker")]


def defaults(cls: type[SharedSettings]) -> dict[str, object]:
    return {name: field.get_default(call_default_factory=True) for name, field in cls.model_fields.items()}


def test_web_defaults() -> None:
    fields = Settings.model_fields

    assert {name: fields[name].default for name in ("max_body_bytes", "sse_ping_seconds", "sse_retry_ms")} == {
        "max_body_bytes": 65_536,
        "sse_ping_seconds": 15,
        "sse_retry_ms": 2_000,
    }
    assert (fields["stream_queue_size"].default, fields["gc_thresholds"].default) == (64, (50_000, 50, 100))
    # The home folder, resolved like any root.
    assert defaults(Settings)["allowed_roots"] == (Path.home(),)
    assert Settings(allowed_roots=(Path.home(),)).allowed_roots == (Path.home().resolve(),)


def test_shared_defaults_are_the_same_for_web_and_worker() -> None:
    shared = SharedSettings.model_fields
    for cls in (Settings, WorkerSettings, LaunchSettings):
        for name in shared:
            if name != "celery_result_backend":
                assert cls.model_fields[name].default == shared[name].default, (cls, name)
    assert shared["redis_url"].default == LOCAL_REDIS
    assert (shared["result_expires"].default, shared["worker_lost_after"].default) == (86_400, 20.0)


def test_web_security_defaults() -> None:
    settings = Settings(host="127.0.0.1", allowed_hosts=None, session_max_age=43_200)

    assert settings.host_names == ("localhost", "*.localhost", "127.0.0.1", "::1")
    fields = Settings.model_fields
    assert (
        fields["session_max_age"].default,
        fields["login_max_failures"].default,
        fields["login_failure_window"].default,
    ) == (43_200, 5, 300)


@pytest.mark.parametrize(
    ("host", "added"),
    [
        pytest.param("127.0.0.1", (), id="default-host"),
        pytest.param("192.168.1.20", ("192.168.1.20",), id="lan-address"),
        pytest.param("Box.Local", ("box.local",), id="name"),
        pytest.param("[fd00::2]", ("fd00::2",), id="ipv6"),
    ],
)
def test_allowed_hosts_default_to_local_names_and_the_bound_host(host: str, added: tuple[str, ...]) -> None:
    assert Settings(host=host, allowed_hosts=None).host_names == LOCAL_HOSTS + added


def test_allowed_hosts_replace_the_default() -> None:
    settings = Settings(host="0.0.0.0", allowed_hosts="Live.Example.com, *.internal ,,[::1]:8000")

    assert settings.host_names == ("live.example.com", "*.internal", "::1")


@pytest.mark.parametrize(
    "raw", ["exa*mple.com", "*example.com", "*.*.example.com", "https://live.example.com", "[::1", "ex ample.com"]
)
def test_an_allowed_host_that_is_no_host_name_is_rejected(raw: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(f"Setting 'ALLOWED_HOSTS' has value {raw!r}")):
        Settings.load(allowed_hosts=raw)


def test_worker_defaults() -> None:
    fields = WorkerSettings.model_fields

    assert fields["plugins"].default is None  # every installed plugin
    assert {name: fields[name].default for name in fields if name not in SharedSettings.model_fields} == {
        "metrics_port": 9808,
        "worker_concurrency": "auto",  # a pool process per CPU (tests/test_cores.py)
    }


def test_audio_defaults() -> None:
    fields = AudioSettings.model_fields

    assert {name: field.default for name, field in fields.items()} == {
        "whisper_model": None,  # the web reads which languages it knows, the worker loads it
        "progress_interval": 0.25,
        "transcripts_dir": DEFAULT_TRANSCRIPTS_DIR,
        "split_batches": "auto",  # over every pool process of the worker
        "whisper_cpu_threads": 0,  # the CPUs shared out among them
        # resolved when the worker starts (worker/device.py): CUDA and float16 where there is a GPU
        "whisper_device": "auto",
        "whisper_compute_type": "auto",
    }


@pytest.mark.parametrize("cls", BOTH)
def test_plugins_narrow_to_a_comma_separated_list(cls: type[SharedSettings]) -> None:
    assert cls(plugins="audio, tabular").plugins == ("audio", "tabular")


@pytest.mark.parametrize("cls", BOTH)
def test_redis_url_feeds_broker_and_backend(cls: type[SharedSettings]) -> None:
    settings = cls(redis_url="redis://cache:6380/3", celery_broker_url=None, celery_result_backend=None)

    assert (settings.broker_url, settings.result_backend) == ("redis://cache:6380/3", "redis://cache:6380/3")


def test_web_refuses_a_result_backend_that_is_not_redis() -> None:
    with pytest.raises(SettingsError, match="'CELERY_RESULT_BACKEND' has value 'rpc://'. It must be a Redis URL."):
        Settings.load(celery_result_backend="rpc://")


def test_the_worker_takes_any_result_backend_celery_knows() -> None:
    assert WorkerSettings(celery_result_backend="rpc://").result_backend == "rpc://"


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize(
    ("values", "broker", "backend"),
    [
        pytest.param(
            {"redis_url": "redis://r/1", "celery_broker_url": "redis://b/2", "celery_result_backend": None},
            "redis://b/2",
            "redis://r/1",
            id="broker-only",
        ),
        pytest.param(
            {"redis_url": "redis://r/1", "celery_broker_url": None, "celery_result_backend": "redis://rb/4"},
            "redis://r/1",
            "redis://rb/4",
            id="backend-only",
        ),
        pytest.param(
            {"celery_broker_url": "redis://b/2", "celery_result_backend": "redis://rb/4"},
            "redis://b/2",
            "redis://rb/4",
            id="both-without-redis-url",
        ),
    ],
)
def test_celery_overrides_win_over_redis_url(
    cls: type[SharedSettings], values: dict[str, str | None], broker: str, backend: str
) -> None:
    settings = cls(**values)

    assert (settings.broker_url, settings.result_backend) == (broker, backend)


def test_allowed_roots_split_on_pathsep_and_resolved(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    raw = os.pathsep.join([f"{tmp_path}/a/../b", str(tmp_path / "link"), "", str(tmp_path / "c")])

    roots = Settings(allowed_roots=raw).allowed_roots

    base = tmp_path.resolve()
    assert roots == (base / "b", base / "real", base / "c")


def test_allowed_roots_expand_the_home_folder() -> None:
    assert Settings(allowed_roots="~").allowed_roots == (Path.home().resolve(),)


@pytest.mark.parametrize("relative", ["data", "./data", "data/../x"], ids=["plain", "dot-slash", "dotdot"])
def test_relative_allowed_root_is_rejected(tmp_path: Path, relative: str) -> None:
    raw = os.pathsep.join([str(tmp_path), relative])

    with pytest.raises(SettingsError, match="Setting 'ALLOWED_ROOTS' has value") as caught:
        Settings.load(allowed_roots=raw)

    assert repr(raw) in str(caught.value)
    assert f"{str(Path(relative))!r} is not absolute" in str(caught.value)


def test_allowed_roots_with_no_folder_in_it_is_rejected() -> None:
    with pytest.raises(SettingsError, match="'ALLOWED_ROOTS' has value ':'. It names no folder."):
        Settings.load(allowed_roots=os.pathsep)


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        pytest.param("result_expires", "3600", 3600, id="result-expires"),
        pytest.param("max_body_bytes", "1024", 1024, id="max-body-bytes-at-minimum"),
        pytest.param("sse_ping_seconds", "5", 5, id="sse-ping-seconds"),
        pytest.param("sse_retry_ms", "0", 0, id="sse-retry-ms-zero"),
        pytest.param("stream_queue_size", " 8 ", 8, id="stream-queue-size-spaces"),
        pytest.param("session_max_age", "3600", 3600, id="session-max-age"),
        pytest.param("login_max_failures", "10", 10, id="login-max-failures"),
        pytest.param("login_failure_window", "60", 60, id="login-failure-window"),
        pytest.param("worker_lost_after", "2.5", 2.5, id="worker-lost-after"),
        pytest.param("gc_thresholds", "700,10,10", (700, 10, 10), id="gc-thresholds"),
        pytest.param(
            "cors_origins", "https://a.example, ,https://b.example", ("https://a.example", "https://b.example")
        ),
        pytest.param("log_format", "json", "json", id="log-format"),
    ],
)
def test_web_settings_are_read_from_strings(field: str, raw: str, expected: object) -> None:
    assert getattr(Settings(**{field: raw}), field) == expected


@pytest.mark.parametrize(
    ("name", "raw", "says"),
    [
        pytest.param("RESULT_EXPIRES", "soon", "Input should be a valid integer", id="result-expires-word"),
        pytest.param("RESULT_EXPIRES", "90.5", "Input should be a valid integer", id="result-expires-fraction"),
        pytest.param("RESULT_EXPIRES", "59", "Input should be greater than or equal to 60", id="result-expires-small"),
        pytest.param("MAX_BODY_BYTES", "64k", "Input should be a valid integer", id="max-body-bytes-unit"),
        pytest.param("MAX_BODY_BYTES", "1023", "Input should be greater than or equal to 1024", id="max-body-small"),
        pytest.param("SSE_PING_SECONDS", "0", "Input should be greater than or equal to 1", id="sse-ping-seconds-zero"),
        pytest.param("SSE_RETRY_MS", "-1", "Input should be greater than or equal to 0", id="sse-retry-ms-negative"),
        pytest.param("STREAM_QUEUE_SIZE", "1", "Input should be greater than or equal to 2", id="stream-queue-one"),
        pytest.param("SESSION_MAX_AGE", "1h", "Input should be a valid integer", id="session-max-age-unit"),
        pytest.param("SSE_SEND_TIMEOUT", "inf", "Input should be a finite number", id="sse-send-timeout-infinite"),
        pytest.param("WORKER_LOST_AFTER", "nan", "Input should be a finite number", id="worker-lost-after-nan"),
        pytest.param("GC_THRESHOLDS", "1,2", "Three ints, e.g. '50000,50,100'.", id="gc-thresholds-two"),
        pytest.param("GC_THRESHOLDS", "0,2,3", "Each must be at least 1.", id="gc-thresholds-zero"),
        pytest.param("LOG_FORMAT", "xml", "Input should be 'text' or 'json'", id="log-format"),
    ],
)
def test_a_bad_web_setting_names_the_variable_and_value(name: str, raw: str, says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(**{Settings.variables()[name]: raw})

    assert str(caught.value).startswith(f"Setting {name!r} has value {raw!r}. {says}")


def test_every_bad_setting_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(result_expires="soon", max_streams="0")

    assert [line.split(".")[0] for line in str(caught.value).splitlines()] == [
        "Setting 'RESULT_EXPIRES' has value 'soon'",
        "Setting 'MAX_STREAMS' has value '0'",
    ]


def test_worker_settings_are_read_from_strings(tmp_path: Path) -> None:
    settings = WorkerSettings(result_expires="600", WORKER_METRICS_PORT="0")
    audio = AudioSettings(
        whisper_model="/models/tiny.en",
        progress_interval="0.5",
        transcripts_dir=str(tmp_path),
        split_batches="8",
        whisper_cpu_threads="1",
    )

    assert (settings.result_expires, settings.metrics_port) == (600, 0)
    assert (
        audio.whisper_model,
        audio.progress_interval,
        audio.transcripts_dir,
        audio.split_batches,
        audio.whisper_cpu_threads,
    ) == ("/models/tiny.en", 0.5, tmp_path, 8, 1)


def test_worker_progress_interval_may_be_zero() -> None:
    assert AudioSettings(progress_interval="0").progress_interval == 0


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        pytest.param("RESULT_EXPIRES", "soon", id="result-expires-word"),
        pytest.param("RESULT_EXPIRES", "59", id="result-expires-too-small"),
        pytest.param("RESULT_EXPIRES", "90.5", id="result-expires-fraction"),
        pytest.param("RESULT_EXPIRES", "inf", id="result-expires-infinite"),
        pytest.param("RESULT_EXPIRES", "nan", id="result-expires-nan"),
        pytest.param("PROGRESS_INTERVAL", "fast", id="progress-interval-word"),
        pytest.param("PROGRESS_INTERVAL", "-0.1", id="progress-interval-negative"),
        pytest.param("PROGRESS_INTERVAL", "nan", id="progress-interval-nan"),
        pytest.param("SPLIT_BATCHES", "0", id="split-batches-0"),
        pytest.param("SPLIT_BATCHES", "two", id="split-batches-word"),
        pytest.param("WHISPER_CPU_THREADS", "-1", id="cpu-threads-negative"),
        pytest.param("WORKER_METRICS_PORT", "http", id="metrics-port-word"),
        pytest.param("WORKER_METRICS_PORT", "70000", id="metrics-port-too-large"),
    ],
)
def test_a_bad_worker_setting_names_the_variable_and_value(name: str, raw: str) -> None:
    cls = WorkerSettings if name in WorkerSettings.variables() else AudioSettings
    with pytest.raises(SettingsError, match=f"^Setting {name!r} has value {raw!r}. "):
        cls.load(**{name: raw})

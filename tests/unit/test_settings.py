"""Both processes' settings, built from explicit environments (os.environ is never touched)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from app.settings import LOCAL_HOSTS, Settings
from worker.settings import DEFAULT_TRANSCRIPTS_DIR, WorkerSettings

LOCAL_REDIS = "redis://127.0.0.1:6379/0"
SettingsType = type[Settings] | type[WorkerSettings]
BOTH = [pytest.param(Settings, id="web"), pytest.param(WorkerSettings, id="worker")]


def test_web_defaults() -> None:
    settings = Settings.from_environ({})

    assert settings == Settings(
        broker_url=LOCAL_REDIS,
        result_backend=LOCAL_REDIS,
        allowed_roots=(Path.home().resolve(),),
        result_expires=86_400,
        max_body_bytes=65_536,
        sse_ping_seconds=15,
        sse_retry_ms=2_000,
        stream_queue_size=64,
    )


def test_web_security_defaults() -> None:
    settings = Settings.from_environ({})

    assert settings.allowed_hosts == ("localhost", "*.localhost", "127.0.0.1", "::1")
    assert (settings.session_max_age, settings.login_max_failures, settings.login_failure_window) == (43_200, 5, 300)


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
    assert Settings.from_environ({"HOST": host}).allowed_hosts == LOCAL_HOSTS + added


def test_allowed_hosts_replace_the_default() -> None:
    settings = Settings.from_environ({"HOST": "0.0.0.0", "ALLOWED_HOSTS": "Live.Example.com, *.internal ,,[::1]:8000"})

    assert settings.allowed_hosts == ("live.example.com", "*.internal", "::1")


@pytest.mark.parametrize(
    "raw", ["exa*mple.com", "*example.com", "*.*.example.com", "https://live.example.com", "[::1", "ex ample.com"]
)
def test_an_allowed_host_that_is_no_host_name_is_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"Setting 'ALLOWED_HOSTS' has value {raw!r}")):
        Settings.from_environ({"ALLOWED_HOSTS": raw})


def test_worker_defaults() -> None:
    settings = WorkerSettings.from_environ({})

    assert settings == WorkerSettings(
        broker_url=LOCAL_REDIS,
        result_backend=LOCAL_REDIS,
        result_expires=86_400,
        whisper_model=None,
        progress_interval=0.25,
        transcripts_dir=DEFAULT_TRANSCRIPTS_DIR,
        split_batches=1,
        whisper_cpu_threads=0,
    )


@pytest.mark.parametrize("cls", BOTH)
def test_empty_values_mean_the_defaults(cls: SettingsType) -> None:
    names = [
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "CELERY_RESULT_BACKEND",
        "RESULT_EXPIRES",
        "ALLOWED_ROOTS",
        "WHISPER_MODEL",
        "PROGRESS_INTERVAL",
        "TRANSCRIPTS_DIR",
        "STREAM_QUEUE_SIZE",
        "SSE_PING_SECONDS",
        "SPLIT_BATCHES",
        "WHISPER_CPU_THREADS",
        "ALLOWED_HOSTS",
        "SESSION_MAX_AGE",
        "LOGIN_MAX_FAILURES",
        "LOGIN_FAILURE_WINDOW",
    ]

    assert cls.from_environ(dict.fromkeys(names, "")) == cls.from_environ({})


@pytest.mark.parametrize("cls", BOTH)
def test_redis_url_feeds_broker_and_backend(cls: SettingsType) -> None:
    settings = cls.from_environ({"REDIS_URL": "redis://cache:6380/3"})

    assert (settings.broker_url, settings.result_backend) == ("redis://cache:6380/3", "redis://cache:6380/3")


def test_web_refuses_a_result_backend_that_is_not_redis() -> None:
    with pytest.raises(ValueError, match="'CELERY_RESULT_BACKEND' has value 'rpc://'"):
        Settings.from_environ({"CELERY_RESULT_BACKEND": "rpc://"})


@pytest.mark.parametrize("cls", BOTH)
@pytest.mark.parametrize(
    ("environ", "broker", "backend"),
    [
        pytest.param(
            {"REDIS_URL": "redis://r/1", "CELERY_BROKER_URL": "redis://b/2"},
            "redis://b/2",
            "redis://r/1",
            id="broker-only",
        ),
        pytest.param(
            {"REDIS_URL": "redis://r/1", "CELERY_RESULT_BACKEND": "redis://rb/4"},
            "redis://r/1",
            "redis://rb/4",
            id="backend-only",
        ),
        pytest.param(
            {"CELERY_BROKER_URL": "redis://b/2", "CELERY_RESULT_BACKEND": "redis://rb/4"},
            "redis://b/2",
            "redis://rb/4",
            id="both-without-redis-url",
        ),
    ],
)
def test_celery_overrides_win_over_redis_url(
    cls: SettingsType, environ: dict[str, str], broker: str, backend: str
) -> None:
    settings = cls.from_environ(environ)

    assert (settings.broker_url, settings.result_backend) == (broker, backend)


def test_allowed_roots_split_on_pathsep_and_resolved(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    raw = os.pathsep.join([f"{tmp_path}/a/../b", str(tmp_path / "link"), "", str(tmp_path / "c")])

    roots = Settings.from_environ({"ALLOWED_ROOTS": raw}).allowed_roots

    base = tmp_path.resolve()
    assert roots == (base / "b", base / "real", base / "c")


def test_allowed_roots_expand_the_home_folder() -> None:
    roots = Settings.from_environ({"ALLOWED_ROOTS": "~"}).allowed_roots

    assert roots == (Path.home().resolve(),)


@pytest.mark.parametrize("relative", ["data", "./data", "data/../x"], ids=["plain", "dot-slash", "dotdot"])
def test_relative_allowed_root_is_rejected(tmp_path: Path, relative: str) -> None:
    raw = os.pathsep.join([str(tmp_path), relative])

    with pytest.raises(ValueError, match="Setting 'ALLOWED_ROOTS' has value") as caught:
        Settings.from_environ({"ALLOWED_ROOTS": raw})

    assert repr(raw) in str(caught.value)
    assert f"{str(Path(relative))!r} is not absolute" in str(caught.value)


def test_allowed_roots_with_no_folder_in_it_is_rejected() -> None:
    with pytest.raises(ValueError, match="ALLOWED_ROOTS"):
        Settings.from_environ({"ALLOWED_ROOTS": os.pathsep})


@pytest.mark.parametrize(
    ("name", "raw", "field", "expected"),
    [
        pytest.param("RESULT_EXPIRES", "3600", "result_expires", 3600, id="result-expires"),
        pytest.param("MAX_BODY_BYTES", "1024", "max_body_bytes", 1024, id="max-body-bytes-at-minimum"),
        pytest.param("SSE_PING_SECONDS", "5", "sse_ping_seconds", 5, id="sse-ping-seconds"),
        pytest.param("SSE_RETRY_MS", "0", "sse_retry_ms", 0, id="sse-retry-ms-zero"),
        pytest.param("STREAM_QUEUE_SIZE", " 8 ", "stream_queue_size", 8, id="stream-queue-size-spaces"),
        pytest.param("SESSION_MAX_AGE", "3600", "session_max_age", 3600, id="session-max-age"),
        pytest.param("LOGIN_MAX_FAILURES", "10", "login_max_failures", 10, id="login-max-failures"),
        pytest.param("LOGIN_FAILURE_WINDOW", "60", "login_failure_window", 60, id="login-failure-window"),
    ],
)
def test_web_int_settings_are_read(name: str, raw: str, field: str, expected: int) -> None:
    assert getattr(Settings.from_environ({name: raw}), field) == expected


@pytest.mark.parametrize(
    ("name", "raw", "says"),
    [
        pytest.param("RESULT_EXPIRES", "soon", "Not a valid int.", id="result-expires-word"),
        pytest.param("RESULT_EXPIRES", "90.5", "Not a valid int.", id="result-expires-fraction"),
        pytest.param("RESULT_EXPIRES", "59", "It must be at least 60.", id="result-expires-too-small"),
        pytest.param("MAX_BODY_BYTES", "64k", "Not a valid int.", id="max-body-bytes-unit"),
        pytest.param("MAX_BODY_BYTES", "1023", "It must be at least 1024.", id="max-body-bytes-too-small"),
        pytest.param("SSE_PING_SECONDS", "0", "It must be at least 1.", id="sse-ping-seconds-zero"),
        pytest.param("SSE_RETRY_MS", "-1", "It must be at least 0.", id="sse-retry-ms-negative"),
        pytest.param("STREAM_QUEUE_SIZE", "1", "It must be at least 2.", id="stream-queue-size-one"),
        pytest.param("SESSION_MAX_AGE", "0", "It must be at least 1.", id="session-max-age-zero"),
        pytest.param("SESSION_MAX_AGE", "1h", "Not a valid int.", id="session-max-age-unit"),
        pytest.param("LOGIN_MAX_FAILURES", "0", "It must be at least 1.", id="login-max-failures-zero"),
    ],
)
def test_web_bad_int_names_the_setting_and_value(name: str, raw: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        Settings.from_environ({name: raw})

    assert str(caught.value) == f"Setting {name!r} has value {raw!r}. {says}"


def test_worker_settings_are_read(tmp_path: Path) -> None:
    settings = WorkerSettings.from_environ(
        {
            "RESULT_EXPIRES": "600",
            "WHISPER_MODEL": "/models/tiny.en",
            "PROGRESS_INTERVAL": "0.5",
            "TRANSCRIPTS_DIR": str(tmp_path),
        }
    )

    assert (settings.result_expires, settings.whisper_model, settings.progress_interval, settings.transcripts_dir) == (
        600,
        "/models/tiny.en",
        0.5,
        tmp_path,
    )


def test_worker_scaling_settings_are_read() -> None:
    settings = WorkerSettings.from_environ({"SPLIT_BATCHES": "8", "WHISPER_CPU_THREADS": "1"})

    assert (settings.split_batches, settings.whisper_cpu_threads) == (8, 1)


def test_worker_progress_interval_may_be_zero() -> None:
    assert WorkerSettings.from_environ({"PROGRESS_INTERVAL": "0"}).progress_interval == 0


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        pytest.param("RESULT_EXPIRES", "soon", id="result-expires-word"),
        pytest.param("RESULT_EXPIRES", "59", id="result-expires-too-small"),
        pytest.param("PROGRESS_INTERVAL", "fast", id="progress-interval-word"),
        pytest.param("PROGRESS_INTERVAL", "-0.1", id="progress-interval-negative"),
        pytest.param(
            "RESULT_EXPIRES",
            "90.5",
            id="result-expires-fraction",
        ),
        pytest.param(
            "RESULT_EXPIRES",
            "inf",
            id="result-expires-infinite",
        ),
        pytest.param(
            "RESULT_EXPIRES",
            "nan",
            id="result-expires-nan",
        ),
        pytest.param(
            "PROGRESS_INTERVAL",
            "nan",
            id="progress-interval-nan",
        ),
        pytest.param("SPLIT_BATCHES", "0", id="split-batches-0"),
        pytest.param("SPLIT_BATCHES", "two", id="split-batches-word"),
        pytest.param("WHISPER_CPU_THREADS", "-1", id="cpu-threads-negative"),
    ],
)
def test_worker_bad_number_names_the_setting_and_value(name: str, raw: str) -> None:
    with pytest.raises(ValueError, match=f"Setting {name!r} has value {raw!r}"):
        WorkerSettings.from_environ({name: raw})

"""The web process's settings, read from the environment once."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from contract import DEFAULT_REDIS_URL, WORKER_LOST_AFTER, redis_urls, setting_float, setting_int
from logs import LogFormat, read_log_format


def _roots(raw: str) -> tuple[Path, ...]:
    parts = [Path(part).expanduser() for part in raw.split(os.pathsep) if part]
    if not parts:
        raise ValueError(f"Setting 'ALLOWED_ROOTS' has value {raw!r}. It names no folder.")
    for part in parts:
        if not part.is_absolute():
            raise ValueError(f"Setting 'ALLOWED_ROOTS' has value {raw!r}. {str(part)!r} is not absolute.")
    return tuple(part.resolve() for part in parts)


def _gc_thresholds(value: str) -> tuple[int, int, int]:
    try:
        first, second, third = (int(part) for part in value.split(","))
    except ValueError:
        raise ValueError(f"Setting 'GC_THRESHOLDS' has value {value!r}. Three ints, e.g. '50000,50,100'.") from None
    if min(first, second, third) < 1:
        raise ValueError(f"Setting 'GC_THRESHOLDS' has value {value!r}. Each must be at least 1.")
    return first, second, third


# Names a browser resolves to this machine by itself: no other website can be reached under them.
LOCAL_HOSTS = ("localhost", "*.localhost", "127.0.0.1", "::1")
_HOST_NAME = re.compile(r"[a-z0-9.*:_-]+")


def host_name(value: str) -> str:
    """A Host header's or allow-list entry's name: lowercase, without port or IPv6 brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.removesuffix(".")


def _allowed_hosts(raw: str | None, bound: str | None) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        names = [*LOCAL_HOSTS, host_name(bound)] if bound else list(LOCAL_HOSTS)
        return tuple(dict.fromkeys(names))
    names = []
    for part in raw.split(","):
        if not part.strip():
            continue
        name = host_name(part)
        wildcard_ok = "*" not in name or name == "*" or (name.startswith("*.") and "*" not in name[1:])
        if "/" in part or not _HOST_NAME.fullmatch(name) or not wildcard_ok:
            raise ValueError(
                f"Setting 'ALLOWED_HOSTS' has value {raw!r}. {part.strip()!r} is not a host name "
                "(names, addresses, '*.example.com' or '*')."
            )
        names.append(name)
    return tuple(dict.fromkeys(names))


def _redis_backend(url: str) -> str:
    # The web process reads task states straight from the result backend's Redis.
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"Setting 'CELERY_RESULT_BACKEND' has value {url!r}. It must be a Redis URL.")
    return url


@dataclass(frozen=True, slots=True)
class Settings:
    broker_url: str = DEFAULT_REDIS_URL
    # Where Celery keeps task states: this process reads and subscribes there.
    result_backend: str = DEFAULT_REDIS_URL
    # input_dir must lie inside one of these (after resolving symlinks and "..").
    allowed_roots: tuple[Path, ...] = field(default_factory=lambda: (Path.home().resolve(),))
    # How long Celery keeps a result, and so how long this service remembers a task id.
    result_expires: int = 86_400
    max_body_bytes: int = 65_536
    sse_ping_seconds: int = 15
    sse_retry_ms: int = 2_000
    # Events a slow SSE client may fall behind by before its oldest progress is dropped.
    stream_queue_size: int = 64
    # Seconds a client may take to accept one event before its stream is cut off.
    sse_send_timeout: float = 30.0
    # A running task whose worker has not shown a sign of life for this long has failed.
    worker_lost_after: float = WORKER_LOST_AFTER
    # Open SSE streams per process; past it, new ones get 503 with Retry-After.
    max_streams: int = 10_000
    # Task ids one multi-task stream may follow (GET <path>/events?task_id=...); past it, 422.
    max_tasks_per_stream: int = 100
    # Redis connections per process for reads (requests queue for one); plus one subscription.
    redis_max_connections: int = 32
    # When set, every route but /healthz needs it (see app/access.py).
    api_token: str | None = None
    # Origins allowed to call the API from a browser; none by default. They may also send
    # POST and DELETE (see app/guard.py), as the service's own origin may.
    cors_origins: tuple[str, ...] = ()
    # Host header names the web answers (app/guard.py): what keeps DNS rebinding out.
    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS
    # Seconds a sign-in (with API_TOKEN) lasts; /logout ends it sooner.
    session_max_age: int = 43_200
    # Wrong tokens one client may send to /login within the window before it gets 429s.
    login_max_failures: int = 5
    login_failure_window: int = 300
    log_format: LogFormat = "text"
    # Python's cyclic GC, tuned for thousands of long-lived streams (see app/main.py).
    gc_thresholds: tuple[int, int, int] = (50_000, 50, 100)
    # The worker's WHISPER_MODEL: its folder's files say which languages a request may name.
    whisper_model: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        _redis_url, broker_url, result_backend = redis_urls(environ)
        defaults = cls()
        roots = environ.get("ALLOWED_ROOTS")
        return cls(
            broker_url=broker_url,
            result_backend=_redis_backend(result_backend),
            allowed_roots=_roots(roots) if roots else defaults.allowed_roots,
            result_expires=setting_int(environ, "RESULT_EXPIRES", defaults.result_expires, 60),
            max_body_bytes=setting_int(environ, "MAX_BODY_BYTES", defaults.max_body_bytes, 1_024),
            sse_ping_seconds=setting_int(environ, "SSE_PING_SECONDS", defaults.sse_ping_seconds, 1),
            sse_retry_ms=setting_int(environ, "SSE_RETRY_MS", defaults.sse_retry_ms, 0),
            stream_queue_size=setting_int(environ, "STREAM_QUEUE_SIZE", defaults.stream_queue_size, 2),
            sse_send_timeout=setting_float(environ, "SSE_SEND_TIMEOUT", defaults.sse_send_timeout, 0.1),
            worker_lost_after=setting_float(environ, "WORKER_LOST_AFTER", defaults.worker_lost_after, 1),
            max_streams=setting_int(environ, "MAX_STREAMS", defaults.max_streams, 1),
            max_tasks_per_stream=setting_int(environ, "MAX_TASKS_PER_STREAM", defaults.max_tasks_per_stream, 1),
            redis_max_connections=setting_int(environ, "REDIS_MAX_CONNECTIONS", defaults.redis_max_connections, 1),
            api_token=environ.get("API_TOKEN") or None,
            log_format=read_log_format(environ),
            gc_thresholds=_gc_thresholds(environ.get("GC_THRESHOLDS") or "50000,50,100"),
            cors_origins=tuple(o.strip() for o in environ.get("CORS_ORIGINS", "").split(",") if o.strip()),
            allowed_hosts=_allowed_hosts(environ.get("ALLOWED_HOSTS"), environ.get("HOST")),
            session_max_age=setting_int(environ, "SESSION_MAX_AGE", defaults.session_max_age, 1),
            login_max_failures=setting_int(environ, "LOGIN_MAX_FAILURES", defaults.login_max_failures, 1),
            login_failure_window=setting_int(environ, "LOGIN_FAILURE_WINDOW", defaults.login_failure_window, 1),
            whisper_model=environ.get("WHISPER_MODEL") or None,
        )

"""The web process's settings, read from the environment once (see live_progress/settings.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_settings import NoDecode

from live_progress.redis_url import SENTINEL_SCHEME
from live_progress.settings import Seconds, SharedSettings, redis_location


def _roots(raw: object) -> object:
    if not isinstance(raw, str):
        return raw
    parts = [Path(part).expanduser() for part in raw.split(os.pathsep) if part]
    if not parts:
        raise ValueError("It names no folder.")
    return tuple(parts)


def _resolved_roots(roots: tuple[Path, ...]) -> tuple[Path, ...]:
    for root in roots:
        if not root.is_absolute():
            raise ValueError(f"{str(root)!r} is not absolute.")
    return tuple(root.resolve() for root in roots)


def _gc_thresholds(raw: object) -> object:
    if not isinstance(raw, str):
        return raw
    try:
        first, second, third = (int(part) for part in raw.split(","))
    except ValueError:
        raise ValueError("Three ints, e.g. '50000,50,100'.") from None
    if min(first, second, third) < 1:
        raise ValueError("Each must be at least 1.")
    return first, second, third


def _comma_list(raw: object) -> object:
    return tuple(part.strip() for part in raw.split(",") if part.strip()) if isinstance(raw, str) else raw


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


def _host_names(raw: object) -> object:
    if not isinstance(raw, str | tuple | list):
        return raw
    parts = raw.split(",") if isinstance(raw, str) else raw
    names = []
    for part in parts:
        if not part.strip():
            continue
        name = host_name(part)
        wildcard_ok = "*" not in name or name == "*" or (name.startswith("*.") and "*" not in name[1:])
        if "/" in part or not _HOST_NAME.fullmatch(name) or not wildcard_ok:
            raise ValueError(f"{part.strip()!r} is not a host name (names, addresses, '*.example.com' or '*').")
        names.append(name)
    return tuple(dict.fromkeys(names))


def _redis_backend(url: str | None) -> str | None:
    # The web process reads task states straight from the result backend's Redis.
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://", SENTINEL_SCHEME)):
        raise ValueError("It must be a Redis URL.")
    return url


Roots = Annotated[tuple[Path, ...], NoDecode, BeforeValidator(_roots), AfterValidator(_resolved_roots)]
AtLeastOne = Annotated[int, Field(ge=1)]


class Settings(SharedSettings):
    """The web process's settings."""

    celery_result_backend: Annotated[str | None, AfterValidator(redis_location), AfterValidator(_redis_backend)] = None
    # input_dir must lie inside one of these (after resolving symlinks and "..").
    allowed_roots: Roots = Field(default_factory=lambda: (Path.home(),))
    max_body_bytes: Annotated[int, Field(ge=1_024)] = 65_536
    sse_ping_seconds: AtLeastOne = 15
    sse_retry_ms: Annotated[int, Field(ge=0)] = 2_000
    # Events a slow SSE client may fall behind by before its oldest progress is dropped.
    stream_queue_size: Annotated[int, Field(ge=2)] = 64
    # Seconds a client may take to accept one event before its stream is cut off.
    sse_send_timeout: Annotated[Seconds, Field(ge=0.1)] = 30.0
    # Open SSE streams per process; past it, new ones get 503 with Retry-After.
    max_streams: AtLeastOne = 10_000
    # Task ids one multi-task stream may follow (GET <path>/events?task_id=...); past it, 422.
    max_tasks_per_stream: AtLeastOne = 100
    # Redis connections per process for reads (requests queue for one); plus one subscription.
    redis_max_connections: AtLeastOne = 32
    # When set, every route but /healthz needs it (see live_progress/web/security/access.py).
    api_token: str | None = None
    # Origins allowed to call the API from a browser; none by default. They may also send
    # POST and DELETE (see live_progress/web/security/guard.py), as the service's own origin may.
    cors_origins: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list)] = ()
    # Where uvicorn listens (the Procfile passes it on); its name joins the default allowed_hosts.
    host: str = "127.0.0.1"
    # Host header names the web answers (live_progress/web/security/guard.py): what keeps DNS rebinding out. None:
    # the names a browser resolves to this machine by itself, and host.
    allowed_hosts: Annotated[tuple[str, ...] | None, NoDecode, BeforeValidator(_host_names)] = None
    # Seconds a sign-in (with API_TOKEN) lasts; /logout ends it sooner.
    session_max_age: AtLeastOne = 43_200
    # Wrong tokens one client may send to /login within the window before it gets 429s.
    login_max_failures: AtLeastOne = 5
    login_failure_window: AtLeastOne = 300
    # Python's cyclic GC, tuned for thousands of long-lived streams (see live_progress/web/app.py).
    gc_thresholds: Annotated[tuple[AtLeastOne, AtLeastOne, AtLeastOne], NoDecode, BeforeValidator(_gc_thresholds)] = (
        50_000,
        50,
        100,
    )

    @property
    def host_names(self) -> tuple[str, ...]:
        """The Host header names the web answers."""
        if self.allowed_hosts is not None:
            return self.allowed_hosts
        return tuple(dict.fromkeys([*LOCAL_HOSTS, host_name(self.host)]))

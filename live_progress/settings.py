"""Settings read from the environment, validated once at start.

``SharedSettings`` holds what the web process and the worker must agree on (where Redis is,
how long results live, when a silent worker counts as lost, the log format); each process
extends it: ``app.settings.Settings``, ``worker.settings.WorkerSettings``,
``launch.settings.LaunchSettings``. A field ``result_expires`` is read from the variable
``RESULT_EXPIRES``; an empty variable means the default. Tests build settings directly,
``Settings(redis_url=...)``, which wins over the environment.
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from live_progress.logs import LogFormat, LogLevel
from live_progress.redis_url import SentinelURL, is_sentinel, safe_url

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Seconds without a heartbeat after which a running task counts as lost with its worker.
WORKER_LOST_AFTER = 20.0
# How many worker deaths a task survives: each one hands it to the next worker, this many end it.
MAX_TASK_ATTEMPTS = 3

Seconds = Annotated[float, Field(allow_inf_nan=False)]


def redis_location(url: str | None) -> str | None:
    """A Redis Sentinel URL must name its sentinels well (redis_url.SentinelURL); others pass."""
    if url is not None and is_sentinel(url):
        SentinelURL.parse(url)
    return url


RedisLocation = Annotated[str | None, AfterValidator(redis_location)]


def comma_list(raw: object) -> object:
    """``"a, b"`` as ``("a", "b")``; other values as they are."""
    return tuple(part.strip() for part in raw.split(",") if part.strip()) if isinstance(raw, str) else raw


class SettingsError(ValueError):
    """A variable with a bad value: the message names each variable and its value."""


class EnvSettings(BaseSettings):
    """Settings read from the environment once and validated at start: the base of the
    engine's and of a plugin's own (``live_progress.PluginSettings``)."""

    model_config = SettingsConfigDict(
        frozen=True,
        env_ignore_empty=True,
        extra="ignore",
        # WorkerSettings(metrics_port=0) as well as the variable WORKER_METRICS_PORT.
        validate_by_name=True,
        # Values given to the constructor are checked as strictly as the environment's.
        validate_default=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The constructor's values, then the environment: no .env file, no secrets folder.
        return init_settings, env_settings

    @classmethod
    def load(cls, **values: Any) -> Self:
        """The settings from the environment (``values`` win), or a SettingsError naming each bad variable."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingsError(describe(exc, cls)) from None

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Each environment variable this model reads, with its field's name."""
        return {variable_name(name, field.validation_alias): name for name, field in cls.model_fields.items()}


class SharedSettings(EnvSettings):
    # Broker and result backend, unless CELERY_BROKER_URL / CELERY_RESULT_BACKEND say otherwise.
    # Or Redis Sentinel the kombu way: sentinel://h1:26379;sentinel://h2:26379/0 (see live_progress/redis_url.py).
    redis_url: Annotated[str, AfterValidator(redis_location)] = DEFAULT_REDIS_URL
    celery_broker_url: RedisLocation = None
    celery_result_backend: RedisLocation = None
    # The name Redis Sentinel knows the master by; required when a URL above is sentinel://.
    redis_sentinel_master: str | None = None
    # How long Celery keeps a result, and so how long the web remembers a task id.
    result_expires: Annotated[int, Field(ge=60)] = 86_400
    # A running task whose worker has not shown a sign of life for this long has failed;
    # the worker's heartbeat outlives its last beat by as long.
    worker_lost_after: Annotated[Seconds, Field(ge=1)] = WORKER_LOST_AFTER
    # A running task whose worker is lost goes back to the queue and resumes on the next free
    # worker, until its workers died this many times: then it fails (1: at the first death).
    max_task_attempts: Annotated[int, Field(ge=1)] = MAX_TASK_ATTEMPTS
    log_format: LogFormat = "text"
    # How much web and worker log (the Procfile passes it to uvicorn and Celery too). At every
    # level, no log line holds a Redis password or the API token.
    log_level: LogLevel = "info"
    # The installed plugins (entry points of the group live_progress.plugins) this process
    # loads, by name; None: every one. Web and worker should agree.
    plugins: Annotated[tuple[str, ...] | None, NoDecode, BeforeValidator(comma_list)] = None

    @field_validator("redis_sentinel_master")
    @classmethod
    def _master_when_sentinel(cls, master: str | None, info: ValidationInfo) -> str | None:
        # The URLs in use: a sentinel:// REDIS_URL that both CELERY_* overrides replace needs none.
        redis_url = info.data.get("redis_url") or ""
        urls = [info.data.get(name) or redis_url for name in ("celery_broker_url", "celery_result_backend")]
        if not master and any(is_sentinel(url) for url in urls):
            raise ValueError("A sentinel:// URL is set: name the master that Redis Sentinel watches.")
        return master

    @property
    def broker_url(self) -> str:
        return _as_celery_takes_it(self.celery_broker_url or self.redis_url)

    @property
    def result_backend(self) -> str:
        return _as_celery_takes_it(self.celery_result_backend or self.redis_url)


def _as_celery_takes_it(url: str) -> str:
    return SentinelURL.parse(url).url if is_sentinel(url) else url


def variable_name(field_name: str, alias: object) -> str:
    return alias if isinstance(alias, str) else field_name.upper()


def describe(exc: ValidationError, cls: type[BaseSettings]) -> str:
    """``Setting 'NAME' has value 'raw'. Why.`` for each error, one a line."""
    lines = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        info = cls.model_fields.get(field)
        name = variable_name(field, info.validation_alias if info else None)
        reason = error["msg"].removeprefix("Value error, ").rstrip(".")
        # The message goes to a log: a URL's password is masked there (in the value and in the
        # reason, which may quote it), as Celery masks its broker's.
        lines.append(safe_url(f"Setting {name!r} has value {error['input']!r}. {reason}."))
    return "\n".join(lines)

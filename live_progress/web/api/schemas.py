"""The shapes of the service's answers, for the OpenAPI document (the wire is CONTRACT.md)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    # Fields may be added to any answer (CONTRACT.md), so clients must allow extra ones.
    model_config = ConfigDict(extra="allow")


class FieldError(_Open):
    field: str = Field(description="Where the bad value is, as in the body: parameters.formats[0]")
    message: str = Field(description="The value sent and what is allowed")
    value: str | int | float | bool | None = Field(default=None, description="The value sent, when a single one")
    allowed: list[Any] | None = Field(default=None, description="The values or field names allowed, when known")


class Error(_Open):
    """Every error the service answers."""

    error: str = Field(description="What is wrong, naming the field, path or id")
    fields: list[FieldError] | None = Field(
        default=None, description="A 422 for a body its model refuses: each bad value, one entry per field"
    )


class Submitted(_Open):
    task_id: UUID
    result_url: str = Field(description="The polling endpoint for this task")
    events_url: str = Field(description="The Server-Sent Events stream for this task")


class Cancelling(_Open):
    task_id: UUID
    status: Literal["cancelling"]


class Health(_Open):
    status: Literal["ok"]
    redis: Literal["ok"]
    subscribed: bool = Field(description="Whether this process's subscription to task states is up")
    streams: int = Field(description="Open SSE streams on this process")


class Unavailable(_Open):
    status: Literal["unavailable"]
    error: str


class TextResponse(_Open):
    output_type: Literal["text"]
    title: str | None
    value: str
    subtitle: str | None


class StatusRoot(TextResponse):
    title: Literal["status"]  # type: ignore[assignment]


class ErrorRoot(TextResponse):
    title: Literal["error"]  # type: ignore[assignment]


class ProgressRoot(_Open):
    title: Literal["progress"]
    percent: int = Field(ge=0, le=100)
    description: str


class BatchTextResponse(_Open):
    output_type: Literal["batchtext"]
    texts: list[TextResponse]


class Queued(BaseModel):
    """Queued, or nothing reported yet: ``value`` is ``Task status: PENDING``."""

    root: StatusRoot


class Running(BaseModel):
    """Running (STARTED, PROGRESS, RETRY or a custom state); extra progress fields pass through."""

    root: ProgressRoot


class Finished(BaseModel):
    """Succeeded: the task's result, a RescueBox response."""

    root: BatchTextResponse | dict[str, Any]


class Failed(BaseModel):
    """Failed (``Task failed: <reason>``) or cancelled (``Task cancelled``)."""

    root: ErrorRoot


class Lost(BaseModel):
    """On a stream only: the web process lost Redis; reconnect to resume."""

    error: str
    reconnect: Literal[True]


class RescueBoxRoute(_Open):
    task_schema: str = Field(description="Path of the task's schema")
    run_task: str = Field(description="Path to POST the task to")
    short_title: str
    order: int


class AppMetadata(_Open):
    info: str
    author: str
    version: str
    name: str
    plugin_name: str
    gpu: bool


class InputSchema(_Open):
    key: str
    label: str
    subtitle: str
    input_type: str


class TaskSchema(_Open):
    inputs: list[InputSchema]
    parameters: list[dict[str, Any]]


class Folder(_Open):
    path: str = Field(description="The folder, written as the client typed its parent")
    files: int = Field(description="Files in it (and its subfolders) that the task takes, by name")
    counted_all: bool = Field(description="False when counting stopped early: then files is a lower bound")


class Folders(_Open):
    """Folder suggestions for what was typed so far, all under ALLOWED_ROOTS."""

    folders: list[Folder]
    truncated: bool = Field(description="More folders matched than are listed")


MODELS: list[type[BaseModel]] = [
    RescueBoxRoute,
    AppMetadata,
    TaskSchema,
    Error,
    Submitted,
    Cancelling,
    Health,
    Unavailable,
    Queued,
    Running,
    Finished,
    Failed,
    Lost,
    Folders,
]

"""What a plugin declares: its endpoints, what their requests look like, how they are checked.

A declaration is plain data (pydantic models and functions): importing it loads neither
Starlette nor a plugin's heavy libraries, so the web process and the worker both can. The
web turns each endpoint into its routes, its OpenAPI entry and its RescueBox ``task_schema``
(live_progress/web/api/); the worker imports ``Plugin.worker`` and registers the tasks.
"""

from __future__ import annotations

import os
import stat
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

__all__ = [
    "Endpoint",
    "Input",
    "InputError",
    "Plugin",
    "rescuebox_parameters",
    "resolve_file",
    "resolve_folder",
]


class InputError(Exception):
    """The request is wrong: a 4xx (422 unless said otherwise) whose message names the field,
    the value sent and what is wrong with it."""

    def __init__(self, message: str, status_code: int = 422) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class Input:
    """One input of a RescueBox task schema."""

    key: str
    label: str
    input_type: str  # RescueBox's InputType: "directory", "file", "text", ...
    subtitle: str = ""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A Celery task exposed as ``POST /<plugin>/<name>``, with polling, SSE and cancel beside it.

    ``prepare(request, settings)`` checks what the model cannot (files, folders; it may block:
    it runs in a thread; ``settings.allowed_roots`` are the folders inputs must lie in) and
    returns the task's kwargs, or raises InputError. Without it the task gets the request's
    ``inputs`` and ``parameters`` as they were validated.
    """

    name: str
    task: str
    request_model: type[BaseModel]
    prepare: Callable[[Any, Any], dict[str, Any]] | None = None
    # How RescueBox clients list and present it (GET /<plugin>/<name>/task_schema).
    title: str = ""
    order: int = 0
    inputs: tuple[Input, ...] = ()
    # RescueBox ParameterSchemas; None: derived from the request model's ``parameters``.
    parameters: tuple[dict[str, Any], ...] | None = None
    # When set, GET <path>/folders?prefix= suggests folders under ALLOWED_ROOTS, each with a
    # count of the files (by name) this accepts.
    folder_files: Callable[[str], bool] | None = None
    # The task publishes live results (Job.publish): streams send a late or reconnecting
    # client those it lacks first.
    live_results: bool = False
    # GET <path>/files/<id>?name=<name> downloads a file that the finished task's result lists
    # (``{"files_dir": <folder>, "files": [{"name": <relative to it>}, ...]}``, or
    # ``transcripts_dir`` and each text's ``files``, as RescueBox batches have).
    downloads: bool = False

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"Endpoint name has value {self.name!r}; it must be one path segment")

    def task_schema(self) -> dict[str, Any]:
        """RescueBox's TaskSchema: the inputs and parameters a client should ask for."""
        parameters = self.parameters
        if parameters is None:
            field = self.request_model.model_fields.get("parameters")
            model = field.annotation if field is not None else None
            parameters = rescuebox_parameters(model) if isinstance(model, type) and issubclass(model, BaseModel) else ()
        inputs = [
            {"key": i.key, "label": i.label, "input_type": i.input_type, "subtitle": i.subtitle} for i in self.inputs
        ]
        return {"inputs": inputs, "parameters": list(parameters)}


@dataclass(frozen=True, slots=True)
class Plugin:
    """A group of endpoints under ``/<name>``, described the way RescueBox expects.

    ``worker`` names what registers the tasks on the worker's Celery app,
    ``"package.module:function"`` called as ``function(celery)``; only the worker imports it.
    """

    name: str
    title: str
    info: str
    endpoints: tuple[Endpoint, ...]
    worker: str | None = None
    author: str = ""
    version: str = ""
    gpu: bool = False

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"Plugin name has value {self.name!r}; it must be one path segment")
        names = [endpoint.name for endpoint in self.endpoints]
        if len(set(names)) != len(names):
            raise ValueError(f"Plugin {self.name!r} declares an endpoint name twice: {names}")


def resolve_folder(raw: str, allowed_roots: Sequence[Path], field: str) -> Path:
    """The real path of the folder ``raw`` names, inside ``allowed_roots`` after ``..`` and
    symlinks are resolved; InputError (naming ``field`` and ``raw``) otherwise."""
    resolved, mode = _resolve(raw, allowed_roots, field)
    if not stat.S_ISDIR(mode):
        raise InputError(f"{field} has value {raw!r}, which is not a folder")
    return resolved


def resolve_file(raw: str, allowed_roots: Sequence[Path], field: str) -> Path:
    """As resolve_folder, for a regular file."""
    resolved, mode = _resolve(raw, allowed_roots, field)
    if not stat.S_ISREG(mode):
        raise InputError(f"{field} has value {raw!r}, which is not a file")
    return resolved


def _resolve(raw: str, allowed_roots: Sequence[Path], field: str) -> tuple[Path, int]:
    if "\x00" in raw:
        raise InputError(f"{field} contains a NUL byte")
    if not raw.strip():
        raise InputError(f"{field} is empty; it must be an absolute path")
    path = Path(raw)
    if not path.is_absolute():
        raise InputError(f"{field} has value {raw!r}; it must be an absolute path")
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:
        raise InputError(f"{field} has value {raw!r}, which cannot be resolved: {exc}") from exc
    if not any(resolved.is_relative_to(root) for root in allowed_roots):
        allowed = os.pathsep.join(str(root) for root in allowed_roots)
        raise InputError(
            f"{field} has value {raw!r}, which lies outside the allowed folders ({allowed}); see ALLOWED_ROOTS",
            403,
        )
    try:
        mode = resolved.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{field} has value {raw!r}, which does not exist") from None
    except OSError as exc:  # a name too long, a loop, no permission...
        raise InputError(f"{field} has value {raw!r}, which cannot be read: {exc.strerror}") from None
    return resolved, mode


def rescuebox_parameters(model: type[BaseModel]) -> tuple[dict[str, Any], ...]:
    """RescueBox ParameterSchemas for the fields of a parameters model.

    Each field's ``title`` is the label and its ``description`` the subtitle. RescueBox has no
    list or boolean type: a ``Literal`` is an enum, a ``bool`` the enum false/true, an ``int``
    or ``float`` its own type (with ``ge``/``le`` as its range), anything else text (a list as
    its items comma-separated).
    """
    schemas = []
    for key, field in model.model_fields.items():
        label = field.title or key.replace("_", " ").capitalize()
        default = field.get_default(call_default_factory=True)
        value = _parameter_value(field.annotation, default, field.metadata)
        schemas.append({"key": key, "label": label, "subtitle": field.description or "", "value": value})
    return tuple(schemas)


def _parameter_value(annotation: Any, default: Any, metadata: list[Any]) -> dict[str, Any]:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        keys = [str(choice) for choice in typing.get_args(annotation)]
        return _enum(keys, str(default))
    if annotation is bool:
        return _enum(["false", "true"], "true" if default else "false", labels=["No", "Yes"])
    if annotation in (int, float):
        bounds = {"min": None, "max": None}
        for rule in metadata:
            for name, key in (("ge", "min"), ("gt", "min"), ("le", "max"), ("lt", "max")):
                if getattr(rule, name, None) is not None:
                    bounds[key] = getattr(rule, name)
        kind = "int" if annotation is int else "float"
        return {"parameter_type": kind, "default": default, **bounds}
    if origin in (list, tuple) or isinstance(annotation, types.GenericAlias):
        items = default if isinstance(default, list | tuple) else []
        return {"parameter_type": "text", "default": ", ".join(str(item) for item in items)}
    return {"parameter_type": "text", "default": "" if default is None else str(default)}


def _enum(keys: list[str], default: str, labels: list[str] | None = None) -> dict[str, Any]:
    shown = labels or keys
    return {
        "parameter_type": "enum",
        "enum_vals": [{"key": key, "label": label} for key, label in zip(keys, shown, strict=True)],
        "message_when_empty": None,
        "default": default,
    }

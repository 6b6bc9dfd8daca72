"""A request body that its model refuses, as a 422 that names each bad value and what is allowed.

Built from pydantic's error dicts (their ``input`` and ``ctx``), so every plugin's endpoints
say it the same way: ``parameters.formats[0]: 'docx' is not one of txt, srt, vtt, tsv, json``.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from live_progress.web.errors import InvalidFields, shown

# "Input should be a valid integer", "List should have at least 1 item ...": the value, then the rule.
_SHOULD_BE = re.compile(r"^\w+ should be (?P<rule>.*)$", re.DOTALL)
_SHOULD = re.compile(r"^\w+ should (?P<rule>.*)$", re.DOTALL)


def invalid_body(exc: ValidationError, model: type[BaseModel]) -> InvalidFields:
    """The 422 for ``exc``, raised validating a body with ``model``: one line per bad value in
    ``error``, and the same per field in ``fields``."""
    fields = [_field(error, model) for error in exc.errors(include_url=False)]
    message = "; ".join(f"{field['field']}: {field['message']}" for field in fields)
    return InvalidFields(message, fields)


def field_path(loc: Sequence[int | str]) -> str:
    """``("parameters", "formats", 0)`` as ``parameters.formats[0]``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path or "body"


def _field(error: ErrorDetails, model: type[BaseModel]) -> dict[str, Any]:
    kind, value, ctx = error["type"], error["input"], error.get("ctx") or {}
    field: dict[str, Any] = {"field": field_path(error["loc"])}
    allowed: list[Any] | None = None
    if kind == "missing":
        message = "missing; this field is required"
    elif kind in ("literal_error", "enum") and "expected" in ctx:
        allowed = _choices(str(ctx["expected"]))
        message = f"{shown(value)} is not one of {', '.join(str(choice) for choice in allowed)}"
    elif kind == "extra_forbidden":
        allowed = _keys_at(model, error["loc"][:-1])
        known = f"; allowed: {', '.join(allowed)}" if allowed else ""
        message = f"no such field (sent {shown(value)}){known}"
    elif kind == "value_error" or not (match := _SHOULD_BE.match(error["msg"]) or _SHOULD.match(error["msg"])):
        reason = error["msg"].removeprefix("Value error, ")
        message = f"got {shown(value)}; {reason}"
    else:
        verb = "is not" if match.re is _SHOULD_BE else "should"
        message = f"{shown(value)} {verb} {match['rule']}"
    field["message"] = message
    if kind != "missing" and (value is None or isinstance(value, str | int | float | bool)):
        field["value"] = value
    if allowed is not None:
        field["allowed"] = allowed
    return field


def _choices(expected: str) -> list[Any]:
    """Pydantic's ``'txt', 'srt' or 'json'`` (or ``1, 2 or 3``) as the values themselves."""
    choices: list[Any] = []
    for part in re.split(r", | or ", expected):
        if len(part) >= 2 and part[0] == part[-1] == "'":
            choices.append(part[1:-1])
        else:
            try:
                choices.append(int(part))
            except ValueError:
                choices.append(part)
    return choices


def _keys_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str] | None:
    """The field names of the model found at ``loc`` inside ``model``, if one is there."""
    current: Any = model
    for part in loc:
        current = _inner(current, part)
        if current is None:
            return None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return None


def _inner(annotation: Any, part: int | str) -> Any:
    """The type that ``annotation``'s item ``part`` has: a model's field, a list's item, a dict's value."""
    for candidate in _alternatives(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel) and isinstance(part, str):
            for name, info in candidate.model_fields.items():
                if part in (name, info.alias):
                    return info.annotation
        origin, args = typing.get_origin(candidate), typing.get_args(candidate)
        if isinstance(part, int) and origin in (list, tuple, set, frozenset) and args:
            return args[0]
        if isinstance(part, str) and origin is dict and len(args) == 2:
            return args[1]
    return None


def _alternatives(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)

"""What the service offers (``GET /api/plugins``) and a request body typed from the command line.

``--input KEY=VALUE`` and ``--param KEY=VALUE`` are read per the endpoint's RescueBox
``task_schema``: a directory or file input is sent as ``{"path": <absolute path>}``, a text input
as ``{"text": ...}``; a parameter as its ``parameter_type`` says (int, float, one of an enum's
keys, text). Nothing here knows a plugin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PATH_INPUTS = frozenset({"directory", "file"})
TEXT_INPUTS = frozenset({"text", "textarea"})


class UsageError(ValueError):
    """The command line does not fit what the endpoint asks for; the message names the key."""


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    """One endpoint as ``GET /api/plugins`` lists it."""

    path: str
    title: str
    inputs: tuple[dict[str, Any], ...]
    parameters: tuple[dict[str, Any], ...]
    live_results: bool = False
    downloads: bool = False

    @classmethod
    def listed(cls, plugins: Sequence[dict[str, Any]]) -> list[EndpointInfo]:
        """Every endpoint of every plugin, in the order the service lists them."""
        return [
            cls(
                path=endpoint["path"],
                title=endpoint.get("title") or endpoint["path"],
                inputs=tuple(endpoint.get("task_schema", {}).get("inputs", ())),
                parameters=tuple(endpoint.get("task_schema", {}).get("parameters", ())),
                live_results=bool(endpoint.get("live_results")),
                downloads=bool(endpoint.get("downloads")),
            )
            for plugin in plugins
            for endpoint in plugin.get("endpoints", ())
        ]

    def usage(self) -> str:
        """How to call it: ``audio/inspect --input input_dir=DIRECTORY`` and its parameters."""
        words = [
            self.path,
            *(f"--input {spec['key']}={spec.get('input_type', 'text').upper()}" for spec in self.inputs),
        ]
        for spec in self.parameters:
            words.append(f"[--param {spec['key']}={_parameter_kind(spec)}]")
        return " ".join(words)


def find_endpoint(endpoints: Sequence[EndpointInfo], path: str) -> EndpointInfo:
    wanted = path.strip("/")
    for endpoint in endpoints:
        if endpoint.path == wanted:
            return endpoint
    offered = "\n  ".join(f"{endpoint.usage()}  ({endpoint.title})" for endpoint in endpoints) or "none"
    raise UsageError(f"The service has no endpoint {path!r}; it offers:\n  {offered}")


def request_body(endpoint: EndpointInfo, inputs: Sequence[str], parameters: Sequence[str]) -> dict[str, Any]:
    """The RescueBox request for ``endpoint`` from ``KEY=VALUE`` words (the last of a key wins)."""
    return {"inputs": typed_inputs(endpoint, inputs), "parameters": typed_parameters(endpoint, parameters)}


def typed_inputs(endpoint: EndpointInfo, words: Sequence[str]) -> dict[str, Any]:
    specs = {spec["key"]: spec for spec in endpoint.inputs}
    given = _pairs(words, "--input", specs, endpoint)
    missing = [key for key in specs if key not in given]
    if missing:
        wanted = ", ".join(f"--input {key}=… ({specs[key].get('label') or key})" for key in missing)
        raise UsageError(f"{endpoint.path} needs {wanted}")
    return {key: _input_value(specs[key], value) for key, value in given.items()}


def typed_parameters(endpoint: EndpointInfo, words: Sequence[str]) -> dict[str, Any]:
    specs = {spec["key"]: spec for spec in endpoint.parameters}
    return {key: parameter_value(specs[key], value) for key, value in _pairs(words, "--param", specs, endpoint).items()}


def _pairs(words: Sequence[str], option: str, specs: dict[str, Any], endpoint: EndpointInfo) -> dict[str, str]:
    pairs = {}
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or not key:
            raise UsageError(f"{option} has value {word!r}; write it as KEY=VALUE")
        if key not in specs:
            known = ", ".join(specs) or "none"
            raise UsageError(f"{option} {key!r}: {endpoint.path} has no such {option[2:]} (it has: {known})")
        pairs[key] = value
    return pairs


def _input_value(spec: dict[str, Any], value: str) -> dict[str, str]:
    kind = spec.get("input_type", "text")
    if kind in PATH_INPUTS:
        if not value.strip():
            raise UsageError(f"--input {spec['key']} is empty; give the path of a {kind}")
        # Absolute, as the service requires: a path typed here is relative to where the command runs.
        return {"path": str(Path(value).expanduser().resolve())}
    if kind in TEXT_INPUTS:
        return {"text": value}
    raise UsageError(f"--input {spec['key']} is of type {kind!r}, which this client cannot send yet")


def parameter_value(spec: dict[str, Any], raw: str) -> Any:
    """``raw`` as the parameter's type: an int, a float, one of an enum's keys, or text."""
    descriptor = spec.get("value") or {}
    kind = descriptor.get("parameter_type", "text")
    key = spec["key"]
    if kind in ("int", "float"):
        try:
            value: float = int(raw) if kind == "int" else float(raw)
        except ValueError:
            raise UsageError(f"--param {key} has value {raw!r}; it must be {_a(kind)}") from None
        low, high = descriptor.get("min"), descriptor.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            raise UsageError(f"--param {key} has value {raw!r}; it must be between {_bound(low)} and {_bound(high)}")
        return value
    if kind == "enum":
        keys = [str(choice["key"]) for choice in descriptor.get("enum_vals", ())]
        if raw not in keys:
            raise UsageError(f"--param {key} has value {raw!r}; it must be one of {', '.join(keys)}")
        return raw
    return raw


def _parameter_kind(spec: dict[str, Any]) -> str:
    descriptor = spec.get("value") or {}
    if descriptor.get("parameter_type") == "enum":
        return "|".join(str(choice["key"]) for choice in descriptor.get("enum_vals", ()))
    return str(descriptor.get("parameter_type", "text")).upper()


def _a(kind: str) -> str:
    return "a whole number" if kind == "int" else "a number"


def _bound(value: Any) -> str:
    return "…" if value is None else str(value)

"""The OpenAPI 3.1 document at /openapi.json, built from the routes themselves.

Each route is declared once, as a ``DocumentedRoute`` that carries its operations: the same
declaration is what Starlette routes and what the document lists, so a plugin's endpoint is
documented without a line of its own. This module holds the vocabulary (parameters, errors,
the operations of an endpoint's routes) and gathers the document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import BaseModel
from starlette.routing import BaseRoute, Route

from live_progress.web.api.schemas import MODELS

_TASK_ID = {
    "name": "task_id",
    "in": "path",
    "required": True,
    "description": "An id this service issued: a UUID in lowercase, as submit gives it",
    "schema": {"type": "string", "format": "uuid"},
}


def _query(name: str, description: str, required: bool) -> dict[str, Any]:
    """A string query parameter."""
    return {"name": name, "in": "query", "required": required, "description": description, "schema": {"type": "string"}}


_LAST_EVENT_ID = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": "The id of the last event the client has, as this stream sent it; sent by EventSource when "
    "it reconnects. Any other value is a 400",
    "schema": {"type": "string"},
}
_TASK_IDS = {
    "name": "task_id",
    "in": "query",
    "required": True,
    "description": "Ids this service issued, one parameter each; at most MAX_TASKS_PER_STREAM (100) of them",
    "schema": {"type": "array", "items": {"type": "string", "format": "uuid"}, "minItems": 1},
    "style": "form",
    "explode": True,
}
_LAST_EVENT_ID_PARAMETER = _query(
    "last_event_id",
    "The id of the last event the client has, from this or another stream of another set of tasks "
    "(for a client that opens a new stream when its set changes); the Last-Event-ID header wins. "
    "Either is a 400 unless it is an id this service sent",
    required=False,
)
_POLLING_BODY = {
    "anyOf": [{"$ref": f"#/components/schemas/{name}"} for name in ("Queued", "Running", "Finished", "Failed")]
}
_EVENTS_DESCRIPTION = (
    "Server-Sent Events. The current state at once, then every change; each event has `event:` "
    "(`status`, `progress`, `result`, `error`), `data:` (exactly the polling body at that moment: "
    "Queued, Running, Finished or Failed, or Lost when the web process lost Redis) and `id:` (the "
    "same for the same state on every replica). The stream ends after `result` or `error`. The first "
    "frame carries `retry:`; a keep-alive comment goes out every 15 s."
)


_TASK_SET_EVENTS_DESCRIPTION = (
    "Server-Sent Events of many tasks over one connection. Everything of the single-task stream holds "
    'per task, and each event\'s data is `{"task_id": …, "root": …}`. The first events are every '
    "task's current state (those the client does not have); the stream ends once every task has had its "
    "final event. Each `id:` records the client's position in every task (`2.` then base64url of, per "
    "task, the first 6 bytes of its id, the 8-byte content id of its last state and 8 bytes for its last "
    "segment), so a reconnect with it is sent nothing it has, on any replica."
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str | dict[str, Any], description: str) -> dict[str, Any]:
    schema = _ref(name) if isinstance(name, str) else name
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    meaning = {
        400: "A value sent cannot be read (the message names it and what is expected): the body is not JSON, a "
        "task id is malformed, no task_id or more than MAX_TASKS_PER_STREAM of them, a file's name is missing, "
        "Last-Event-ID or last_event_id is not an id this service sent, or the Host is not in ALLOWED_HOSTS",
        401: "The API token is missing or wrong",
        403: "An input path lies outside ALLOWED_ROOTS, or a page of another origin sent the request",
        404: "No such task (never issued here, or expired)",
        409: "The task has already finished",
        413: "The body is larger than the limit",
        415: "The body is not sent as Content-Type: application/json",
        422: "The body has the wrong shape, or an input is unusable (the message names it and the value)",
        503: "Redis or the broker does not answer, or this process is at a limit (its streams, its Redis "
        "connections); see Retry-After",
    }
    return {str(status): _json("Error", meaning[status]) for status in statuses}


def package_version() -> str:
    try:
        return version("live-progress")
    except PackageNotFoundError:
        return "0"


class DocumentedRoute(Route):
    """A route with its OpenAPI operations, one per method (``{"get": {...}}``): its methods."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        operations: Mapping[str, dict[str, Any]],
        models: Iterable[type[BaseModel]] = (),
    ) -> None:
        super().__init__(path, endpoint, methods=[method.upper() for method in operations])
        self.operations = dict(operations)
        self.models = tuple(models)


def _add(components: dict[str, Any], model: type[BaseModel], mode: str = "serialization") -> None:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)  # type: ignore[arg-type]
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema


def _operation_id(kind: str, task: str) -> str:
    return f"{kind}_{task.replace('.', '_')}"


def plugin_routes_operation(plugin: str) -> dict[str, Any]:
    return {
        "summary": f"RescueBox discovery: the {plugin} plugin's tasks",
        "operationId": f"{plugin}_routes",
        "responses": {"200": _json({"type": "array", "items": _ref("RescueBoxRoute")}, "The tasks")},
    }


def app_metadata_operation(plugin: str) -> dict[str, Any]:
    return {
        "summary": f"RescueBox discovery: what the {plugin} plugin is",
        "operationId": f"{plugin}_app_metadata",
        "responses": {"200": _json("AppMetadata", "The plugin")},
    }


def folders_operation(task: str) -> dict[str, Any]:
    prefix = _query("prefix", "The folder path typed so far (absolute); empty for the allowed roots", required=False)
    return {
        "summary": "Folders under ALLOWED_ROOTS that the typed path leads to, with their file counts",
        "operationId": _operation_id("folders", task),
        "parameters": [prefix],
        "responses": {
            "200": _json("Folders", "At most 50 folders; counts look at 500 entries each at most"),
            **_errors(401, 403, 503),
            "422": _json("Error", "The path is relative, does not exist, or is not a folder"),
        },
    }


def download_operation(task: str) -> dict[str, Any]:
    name = _query(
        "name",
        "A file's name as the result lists it: files[].name (relative to files_dir), or "
        "texts[].files[].name (relative to transcripts_dir)",
        required=True,
    )
    return {
        "summary": "Download a file the finished task wrote (only one its result lists)",
        "operationId": _operation_id("download", task),
        "parameters": [_TASK_ID, name],
        "responses": {
            "200": {"description": "The file, as an attachment", "content": {"*/*": {"schema": {}}}},
            **_errors(400, 401, 503),
            "404": _json("Error", "No such task, or its result lists no such file, or the file is gone"),
            "409": _json("Error", "The task has not finished yet"),
        },
    }


def task_schema_operation(task: str) -> dict[str, Any]:
    return {
        "summary": f"RescueBox task schema of {task}: the inputs and parameters to ask for",
        "operationId": _operation_id("task_schema", task),
        "responses": {"200": _json("TaskSchema", "The task schema")},
    }


def submit_operation(task: str, request_model: type[BaseModel]) -> dict[str, Any]:
    return {
        "summary": f"Start {task}",
        "operationId": _operation_id("submit", task),
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(request_model.__name__)}}},
        "responses": {
            "202": {
                **_json("Submitted", "Accepted; follow it at events_url or poll result_url"),
                "headers": {"Location": {"schema": {"type": "string"}, "description": "The result_url"}},
            },
            **_errors(400, 401, 403, 413, 415, 422, 503),
        },
    }


def poll_operation(task: str) -> dict[str, Any]:
    return {
        "summary": "The task's current state (polling)",
        "operationId": _operation_id("poll", task),
        "parameters": [_TASK_ID],
        "responses": {"200": _json(_POLLING_BODY, "The current state"), **_errors(400, 401, 404, 503)},
    }


def stream_operation(task: str) -> dict[str, Any]:
    return {
        "summary": "The task's states as they happen (Server-Sent Events)",
        "operationId": _operation_id("stream", task),
        "parameters": [_TASK_ID, _LAST_EVENT_ID],
        "responses": {
            "200": {
                "description": _EVENTS_DESCRIPTION,
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            "204": {"description": "Last-Event-ID already is the final event: stop reconnecting"},
            **_errors(400, 401, 404, 503),
        },
    }


def stream_many_operation(task: str) -> dict[str, Any]:
    return {
        "summary": "Many tasks' states as they happen, over one stream (Server-Sent Events)",
        "operationId": _operation_id("stream_many", task),
        "parameters": [_TASK_IDS, _LAST_EVENT_ID_PARAMETER, _LAST_EVENT_ID],
        "responses": {
            "200": {
                "description": _TASK_SET_EVENTS_DESCRIPTION,
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            "204": {"description": "The client has every task's final event: stop reconnecting"},
            **_errors(400, 401, 404, 503),
        },
    }


def cancel_operation(task: str) -> dict[str, Any]:
    return {
        "summary": "Cancel the task",
        "operationId": _operation_id("cancel", task),
        "parameters": [_TASK_ID],
        "responses": {"202": _json("Cancelling", "Cancelling"), **_errors(400, 401, 404, 409, 503)},
    }


PAGE = {
    "summary": "The web page",
    "operationId": "page",
    "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
}
HEALTHZ = {
    "summary": "Whether Redis answers",
    "operationId": "healthz",
    "security": [],
    "responses": {"200": _json("Health", "Redis answers"), "503": _json("Unavailable", "It does not")},
}
METRICS = {
    "summary": "Prometheus metrics of the web processes, added up",
    "operationId": "metrics",
    "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {}}}},
}
PLUGINS = {
    "summary": "The plugins this service serves, each endpoint with its path and task schema",
    "operationId": "plugins",
    "responses": {"200": _json({"type": "array", "items": {"type": "object"}}, "The plugins")},
}
LOGIN_FORM = {
    "summary": "A form for the API token",
    "operationId": "login_form",
    "security": [],
    "responses": {"200": {"description": "HTML form"}},
}
LOGIN = {
    "summary": "Sign in: sets the session cookie that the page's EventSource sends",
    "operationId": "login",
    "security": [],
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {"token": {"type": "string"}}, "required": ["token"]}
            }
        }
    },
    "responses": {
        "303": {"description": "Signed in (a new session, for SESSION_MAX_AGE); back to the page"},
        "200": {"description": "Signed in, to a client that accepts JSON: `expires_in` seconds"},
        "401": {"description": "Wrong token: the form with the message, or JSON `{error}` to a client that asks"},
        "429": {"description": "Too many wrong tokens from this address; see Retry-After (JSON as for 401)"},
    },
}
LOGOUT = {
    "summary": "Sign out: the session cookie stops working, even replayed",
    "operationId": "logout",
    "security": [],
    "responses": {"303": {"description": "Signed out; on to /login?reason=signed-out"}},
}
SESSION = {
    "summary": "How long the caller's sign-in lasts yet, for the page's Sign out and its return to /login",
    "operationId": "session",
    "responses": {
        "200": {
            "description": "`expires_in`: seconds the session cookie works yet; null for the bearer token",
            "content": {"application/json": {}},
        }
    },
}
_OPENAPI = {
    "summary": "This document",
    "operationId": "openapi",
    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
}


def openapi_document(routes: Iterable[BaseRoute], token_required: bool) -> dict[str, Any]:
    """The document of ``routes`` (each DocumentedRoute's operations) and of /openapi.json."""
    components: dict[str, Any] = {}
    for model in MODELS:
        _add(components, model)
    paths: dict[str, Any] = {"/openapi.json": {"get": _OPENAPI}}
    for route in routes:
        if isinstance(route, DocumentedRoute):
            paths.setdefault(route.path, {}).update(route.operations)
            for model in route.models:
                _add(components, model, mode="validation")
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Live progress for long-running ML jobs",
            "version": package_version(),
            "description": "Submit work, then follow it over Server-Sent Events or poll it.",
        },
        "paths": paths,
        "components": {"schemas": components},
    }
    if token_required:
        document["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "API_TOKEN"},
            "session": {"type": "apiKey", "in": "cookie", "name": "live_progress_session"},
        }
        document["security"] = [{"bearer": []}, {"session": []}]
    return document

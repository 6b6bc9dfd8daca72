"""Any Celery task that reports progress the seed's way, exposed as an async endpoint.

One declaration gives submit (``POST path``), polling (``GET path/result/<id>``), the SSE
stream (``GET path/events/<id>``), one stream for many tasks (``GET path/events?task_id=``)
and cancel (``DELETE path/<id>``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from live_progress.plugin import Endpoint
from live_progress.web.api import openapi as api
from live_progress.web.api.bodies import parse_json, read_body
from live_progress.web.api.downloads import written_file
from live_progress.web.api.folders import suggest_folders
from live_progress.web.api.invalid import invalid_body
from live_progress.web.api.openapi import DocumentedRoute
from live_progress.web.engine.events import TaskEvent
from live_progress.web.engine.hub import Inbox, Wake
from live_progress.web.engine.sse import Frames
from live_progress.web.engine.streaming import Cursor, split_position, task_frames
from live_progress.web.engine.task_set import Position, decode_positions, task_set_frames
from live_progress.web.errors import InputError, constant_json, error_response, json_response, malformed
from live_progress.web.services import Services, services_of
from live_progress.web.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AsyncEndpoint:
    """A plugin's declared endpoint (live_progress.Endpoint) at its path, as routes."""

    path: str
    declared: Endpoint

    @classmethod
    def of(cls, plugin: str, endpoint: Endpoint) -> AsyncEndpoint:
        return cls(f"/{plugin}/{endpoint.name}", endpoint)

    @property
    def task(self) -> str:
        return self.declared.task

    @property
    def request_model(self) -> type[BaseModel]:
        return self.declared.request_model

    @property
    def folder_files(self) -> Callable[[str], bool] | None:
        return self.declared.folder_files

    @property
    def live_results(self) -> bool:
        return self.declared.live_results

    @property
    def downloads(self) -> bool:
        return self.declared.downloads

    def prepare(self, body: BaseModel, settings: Settings) -> dict[str, Any]:
        if self.declared.prepare is not None:
            return self.declared.prepare(body, settings)
        return body.model_dump(mode="json", include={"inputs", "parameters"})

    @property
    def task_schema_path(self) -> str:
        return f"{self.path}/task_schema"

    def task_schema(self) -> dict[str, Any]:
        """RescueBox's TaskSchema: the inputs and parameters a client should ask for."""
        return self.declared.task_schema()

    def routes(self) -> list[BaseRoute]:
        path, task = self.path, self.task
        routes = [
            # The router tries routes in order: those every stream and poll takes come first.
            DocumentedRoute(f"{path}/events/{{task_id}}", self.events, {"get": api.stream_operation(task)}),
            DocumentedRoute(f"{path}/result/{{task_id}}", self.result, {"get": api.poll_operation(task)}),
            DocumentedRoute(f"{path}/events", self.task_set_events, {"get": api.stream_many_operation(task)}),
            DocumentedRoute(
                path, self.submit, {"post": api.submit_operation(task, self.request_model)}, [self.request_model]
            ),
            DocumentedRoute(f"{path}/{{task_id}}", self.cancel, {"delete": api.cancel_operation(task)}),
        ]
        if self.folder_files:
            routes.append(DocumentedRoute(f"{path}/folders", self.folders, {"get": api.folders_operation(task)}))
        if self.downloads:
            routes.append(
                DocumentedRoute(f"{path}/files/{{task_id}}", self.download, {"get": api.download_operation(task)})
            )
        schema = constant_json(self.task_schema())
        routes.append(DocumentedRoute(self.task_schema_path, schema, {"get": api.task_schema_operation(task)}))
        return list(routes)

    async def submit(self, request: Request) -> Response:
        services = services_of(request)
        payload = parse_json(await read_body(request, services.settings.max_body_bytes))
        try:
            body = self.request_model.model_validate(payload)
        except ValidationError as exc:
            raise invalid_body(exc, self.request_model) from exc
        kwargs = await anyio.to_thread.run_sync(self.prepare, body, services.settings)
        task_id = str(uuid.uuid4())
        # Recorded before sending, so a client that is quick to ask never gets a 404.
        await services.store.record_issued(task_id, self.path)
        tracked = services.metrics.track(services.hub, task_id, self.task)
        try:
            await services.broker.send(self.task, task_id, kwargs)
        except BaseException:
            tracked.stop()
            raise
        services.metrics.submitted.labels(self.task).inc()
        logger.info("Submitted %s %s: %s", self.task, task_id, kwargs, extra={"task_id": task_id})
        # Mounted under a prefix (another app's Mount), the URLs a client follows carry it.
        path = request.scope.get("root_path", "") + self.path
        result_url = f"{path}/result/{task_id}"
        return json_response(
            {"task_id": task_id, "result_url": result_url, "events_url": f"{path}/events/{task_id}"},
            202,
            {"Location": result_url},
        )

    async def result(self, request: Request) -> Response:
        services, _, event = await self._issued_task(request)
        services.metrics.polls += 1
        return Response(event.data, media_type="application/json")

    async def events(self, request: Request) -> Response:
        services = services_of(request)
        task_id = _task_id(request)
        position = _read(split_position, "Last-Event-ID", _last_event_id_header(request))
        ready = Wake()
        cursors, close = await self._follow(services, [task_id], {task_id: position}, ready)
        cursor = cursors[task_id]
        if cursor.done:
            # The client has the final event: 204 tells EventSource to stop reconnecting.
            close()
            return Response(status_code=204)
        frames = task_frames(cursor, ready, services.settings.sse_retry_ms)
        return self._stream(services, frames, ready, close)

    async def task_set_events(self, request: Request) -> Response:
        """Many tasks over one stream; see live_progress/web/engine/task_set.py."""
        services = services_of(request)
        task_ids = _task_ids(request, services.settings.max_tasks_per_stream)
        # The header is what EventSource sends when it reconnects, so it is newer than the
        # query parameter the page opened the stream with. Both are checked: neither is ignored
        # for being malformed.
        sent = _last_event_id_header(request)
        header = _read(decode_positions, "Last-Event-ID", sent, task_ids)
        parameters = request.query_params.getlist("last_event_id")
        if len(parameters) > 1:
            raise InputError(f"last_event_id: {len(parameters)} of them; give at most one", 400)
        parameter = _read(decode_positions, "last_event_id", parameters[0] if parameters else None, task_ids)
        positions = header if sent else parameter
        ready = Wake()
        cursors, close = await self._follow(services, task_ids, positions, ready)
        if all(cursor.done for cursor in cursors.values()):
            close()
            return Response(status_code=204)
        frames = task_set_frames(cursors, ready, services.settings.sse_retry_ms)
        return self._stream(services, frames, ready, close)

    async def _follow(
        self,
        services: Services,
        task_ids: list[str],
        positions: Mapping[str, Position],
        ready: Wake | None = None,
    ) -> tuple[dict[str, Cursor], Callable[[], None]]:
        """A cursor on each task (404 unless this endpoint issued them all), and how to close them.

        Each task is followed before it is read, so nothing written in between slips by.
        """
        hub = services.hub
        inboxes: dict[str, Inbox] = {}

        def close() -> None:
            for task_id, inbox in inboxes.items():
                hub.unfollow(task_id, inbox)

        try:
            for task_id in task_ids:
                inboxes[task_id] = hub.open(task_id, ready)
            # A cached state is current as of now (no await since its inbox opened), so
            # everything the inbox gets is newer; otherwise one read, as a poll does.
            states: dict[str, tuple[str | None, TaskEvent] | None] = {
                task_id: services.cache.peek(task_id) for task_id in task_ids
            }
            missing = [task_id for task_id, state in states.items() if state is None]
            if missing:
                read = await asyncio.gather(*(services.cache.read_issued(task_id) for task_id in missing))
                states.update(zip(missing, read, strict=True))
            unknown = [task_id for task_id, state in states.items() if state is None or state[0] != self.path]
            if unknown:
                raise HTTPException(404, _not_issued(", ".join(unknown), self.path))
            # Read after the states: a segment published before a state the snapshot holds is
            # in the backlog, and one published later also reaches the inbox.
            # (None to read for a task the cache knows to have none: any later one is in its inbox.)
            backlogs: dict[str, list[TaskEvent]] = {}
            logs = [t for t in task_ids if not services.cache.has_no_segments(t)] if self.live_results else []
            if logs:
                backlogs = await services.store.read_segments({t: positions.get(t, (None, None))[1] for t in logs})
            cursors = {}
            for task_id, state in states.items():
                assert state is not None
                has_state, has_segment = positions.get(task_id, (None, None))
                cursors[task_id] = Cursor(inboxes[task_id], state[1], has_state, has_segment, backlogs.get(task_id, ()))
        except BaseException:
            close()
            raise
        return cursors, close

    def _stream(self, services: Services, frames: Frames, ready: Wake, close: Callable[[], None]) -> Response:
        if not services.streams.try_acquire():
            close()
            return error_response(
                f"This process already serves its limit of {services.streams.limit} streams; try again shortly",
                503,
                {"Retry-After": "5"},
                kind="busy",
            )
        services.metrics.streams_opened += 1
        return services.streams.response(frames, ready, close)

    async def folders(self, request: Request) -> Response:
        assert self.folder_files is not None
        roots = services_of(request).settings.allowed_roots
        typed = request.query_params.get("prefix", "")
        return json_response(await anyio.to_thread.run_sync(suggest_folders, typed, roots, self.folder_files))

    async def download(self, request: Request) -> Response:
        _, task_id, event = await self._issued_task(request)
        name = request.query_params.get("name")
        if not name:
            raise InputError("name: give the file's name as the task's result lists it, as ?name=<name>", 400)
        return written_file(task_id, event, name)

    async def cancel(self, request: Request) -> Response:
        services, task_id, event = await self._issued_task(request)
        if event.final:
            return error_response(f"Task {task_id} has already finished ({event.kind})", 409)
        await services.broker.cancel(task_id, executing=event.executing)
        # Read your own write: the next poll here reads the task anew instead of a cached
        # state that the subscription has not brought up to date yet.
        services.cache.forget(task_id)
        logger.info("Cancelling %s %s", self.task, task_id, extra={"task_id": task_id})
        return json_response({"task_id": task_id, "status": "cancelling"}, 202)

    async def _issued_task(self, request: Request) -> tuple[Services, str, TaskEvent]:
        """The task the path names, if this endpoint issued it, and its current state."""
        services = services_of(request)
        task_id = _task_id(request)
        issued_by, event = await services.cache.read_issued(task_id)
        if issued_by != self.path:
            raise HTTPException(404, _not_issued(task_id, self.path))
        return services, task_id, event


_TASK_ID_EXPECTED = "it is not a task id: one is a UUID in lowercase (8-4-4-4-12 hex digits), as submit gives it"


def _task_id(request: Request) -> str:
    task_id: str = request.path_params["task_id"]
    if not _is_task_id(task_id):
        raise malformed("task_id", task_id, _TASK_ID_EXPECTED)
    return task_id


def _task_ids(request: Request, limit: int) -> list[str]:
    """The ``task_id`` query parameters, each once, in order."""
    task_ids = list(dict.fromkeys(request.query_params.getlist("task_id")))
    if not task_ids:
        raise InputError("task_id: give at least one, as ?task_id=<id>&task_id=<id>...", 400)
    if len(task_ids) > limit:
        raise InputError(
            f"task_id: {len(task_ids)} ids; one stream follows at most {limit} (MAX_TASKS_PER_STREAM)", 400
        )
    for task_id in task_ids:
        if not _is_task_id(task_id):
            raise malformed("task_id", task_id, _TASK_ID_EXPECTED)
    return task_ids


def _last_event_id_header(request: Request) -> str | None:
    """The one ``Last-Event-ID`` header, if sent (an empty one is none, as EventSource means it)."""
    values = request.headers.getlist("last-event-id")
    if len(values) > 1:
        raise InputError(f"Last-Event-ID: {len(values)} of them; send at most one", 400)
    return values[0] if values else None


def _read(parse: Callable[..., T], name: str, value: str | None, *args: Any) -> T:
    """``parse(value, *args)``, its ValueError the client's ``400`` naming ``name`` and the value."""
    try:
        return parse(value, *args)
    except ValueError as exc:
        raise malformed(name, value, str(exc)) from None


def _not_issued(task_id: str, path: str) -> str:
    return f"No task {task_id} was issued by {path} (or it has expired)"


def _is_task_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False

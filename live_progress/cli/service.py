"""The service's HTTP API as the terminal client uses it: what it offers, submit, cancel, follow
a task and download what it wrote. Every endpoint of every plugin has the same routes under its
path (``audio/transcribe``, ``tabular/train``...): each call names the endpoint's path."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, cast

import httpx
from httpx_sse import SSEError, connect_sse

from live_progress.redis_url import safe_url

# Failed attempts in a row, with no state between them, before following a task is given up.
MAX_FAILURES = 8
MAX_BACKOFF = 10.0

Kind = Literal["status", "progress", "result", "error", "segment"]
Notify = Callable[[str], None]


class ServiceError(Exception):
    """The service said no, or did not answer (``status`` 0)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class TaskState:
    """One state of a task: an event kind and the ``root`` of the polling body (or, for a
    ``segment``, a live result the task published as soon as it had it)."""

    kind: Kind
    root: dict[str, Any]

    @property
    def final(self) -> bool:
        return self.kind in ("result", "error")


def poll_kind(root: dict[str, Any]) -> Kind:
    """The design note's pollForResult: progress, or a status saying PENDING, go on; all else is the end."""
    title = root.get("title")
    if title == "progress":
        return "progress"
    if title == "status" and "PENDING" in str(root.get("value")):
        return "status"
    return "error" if title in ("error", "status") else "result"


class _Backoff:
    def __init__(self, first: float) -> None:
        self.first = first
        self._failures = 0

    def succeeded(self) -> None:
        self._failures = 0

    def failed(self, reason: str) -> float:
        """The seconds to wait before trying again; raises once it has failed too often."""
        self._failures += 1
        if self._failures > MAX_FAILURES:
            raise ServiceError(f"Gave up after {MAX_FAILURES} failed attempts in a row: {reason}")
        return min(MAX_BACKOFF, self.first * 2 ** (self._failures - 1))


@dataclass(slots=True)
class _Resume:
    backoff: _Backoff
    last_id: str | None = None


class Service:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # Reads may wait between events: the server sends a keep-alive at least every 15 s.
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=httpx.Timeout(10, read=60))
        # For messages: a URL's password (http://user:pw@host) is masked there, as Celery masks its broker's.
        self.base_url = safe_url(base_url)

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._http.close()

    def plugins(self) -> list[dict[str, Any]]:
        """``GET /api/plugins``: each plugin with its endpoints and their task schemas."""
        return cast(list[dict[str, Any]], self._request("GET", "/api/plugins").json())

    def submit(self, path: str, body: dict[str, Any]) -> str:
        """Submits a RescueBox request (``{"inputs": ..., "parameters": ...}``) to an endpoint."""
        return str(self._request("POST", f"/{path}", json=body).json()["task_id"])

    def cancel(self, path: str, task_id: str) -> bool:
        """True when the service is cancelling the task, False when it had already finished."""
        return self._request("DELETE", f"/{path}/{task_id}", allow=409).status_code == 202

    def find_endpoint(self, task_id: str, paths: Sequence[str]) -> str:
        """The path of the endpoint (among ``paths``) that issued the task: the one whose
        result route knows it."""
        for path in paths:
            response = self._request("GET", f"/{path}/result/{task_id}", allow=404)
            if response.status_code != 404:
                return path
        raise ServiceError(
            f"No task {task_id} was issued by any endpoint of {self.base_url} ({', '.join(paths)}), or it has expired",
            404,
        )

    def download(self, path: str, task_id: str, name: str, target: Path) -> None:
        """Writes the file ``name`` that the finished task's result lists to ``target``."""
        try:
            with self._http.stream("GET", f"/{path}/files/{task_id}", params={"name": name}) as response:
                if response.is_error:
                    response.read()
                    raise ServiceError(_error_message(response), response.status_code)
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
        except httpx.TransportError as exc:
            raise ServiceError(f"Cannot download {name} from {self.base_url}: {exc}") from exc

    def stream(self, path: str, task_id: str, notify: Notify) -> Generator[TaskState, None, None]:
        """The task's states from its SSE stream, reconnecting with Last-Event-ID, to the final one."""
        for _, state in self._follow(f"/{path}/events/{task_id}", {}, {task_id}, notify):
            yield state

    def stream_many(
        self, path: str, task_ids: list[str], notify: Notify
    ) -> Generator[tuple[str, TaskState], None, None]:
        """Each task's states, named by its id, over one SSE stream, until every one is final."""
        params = {"task_id": task_ids}
        yield from self._follow(f"/{path}/events", params, set(task_ids), notify)

    def _follow(
        self, url: str, params: dict[str, Any], task_ids: set[str], notify: Notify
    ) -> Generator[tuple[str, TaskState], None, None]:
        resume = _Resume(_Backoff(first=0.5))
        left = set(task_ids)
        while True:
            try:
                reason = yield from self._stream_once(url, params, left, resume)
            except (httpx.TransportError, SSEError) as exc:
                reason = str(exc) or type(exc).__name__
            if reason is None:
                return
            delay = resume.backoff.failed(reason)
            notify(f"Reconnecting in {delay:g} s ({reason})")
            time.sleep(delay)

    def _stream_once(
        self, url: str, params: dict[str, Any], left: set[str], resume: _Resume
    ) -> Generator[tuple[str, TaskState], None, str | None]:
        """One connection's states, until none of ``left`` is unfinished (then None) or it ends
        before that (then why). An event without a task_id is of the one task in ``left``."""
        headers = {"Last-Event-ID": resume.last_id} if resume.last_id else {}
        with connect_sse(self._http, "GET", url, params=params, headers=headers) as source:
            response = source.response
            if response.status_code == 204:
                return None  # the client has every final state
            if response.is_error:
                response.read()
                _raise_for_client_error(response)
                return _error_message(response)
            for sse in source.iter_sse():
                if sse.retry:
                    resume.backoff.first = sse.retry / 1000
                if not sse.data:
                    continue
                body = json.loads(sse.data)
                if sse.event == "error" and "root" not in body:
                    return str(body.get("error"))  # the server lost Redis; a reconnect resumes
                resume.backoff.succeeded()
                resume.last_id = sse.id or resume.last_id
                task_id = body.get("task_id") or next(iter(left))
                state = TaskState(cast(Kind, sse.event), body["root"])
                yield task_id, state
                if state.final:
                    left.discard(task_id)
                    if not left:
                        return None
        return "the stream ended before the task did"

    def poll(self, path: str, task_id: str, interval: float, notify: Notify) -> Generator[TaskState, None, None]:
        """The task's states from the polling endpoint, every ``interval`` seconds, to the final one."""
        backoff = _Backoff(first=interval)
        while True:
            try:
                response = self._http.get(f"/{path}/result/{task_id}")
            except httpx.TransportError as exc:
                reason = str(exc) or type(exc).__name__
            else:
                _raise_for_client_error(response)
                if not response.is_error:
                    backoff.succeeded()
                    root = response.json()["root"]
                    state = TaskState(poll_kind(root), root)
                    yield state
                    if state.final:
                        return
                    time.sleep(interval)
                    continue
                reason = _error_message(response)
            delay = backoff.failed(reason)
            notify(f"Polling again in {delay:g} s ({reason})")
            time.sleep(delay)

    def _request(self, method: str, url: str, allow: int | None = None, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise ServiceError(f"Cannot reach the service at {self.base_url}: {exc}") from exc
        if response.is_error and response.status_code != allow:
            raise ServiceError(_error_message(response), response.status_code)
        return response


def _raise_for_client_error(response: httpx.Response) -> None:
    """A 4xx will not get better by trying again (unknown task, no token); a 5xx may."""
    if response.is_client_error:
        raise ServiceError(_error_message(response), response.status_code)


def _error_message(response: httpx.Response) -> str:
    try:
        message = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        message = response.text.strip() or response.reason_phrase
    return f"{message} (HTTP {response.status_code})"

"""create_app() is an app, not a process: it changes nothing process-wide, and its open streams
end with its lifespan (a mounted app hears no signal of its server's)."""

from __future__ import annotations

import asyncio

from asgi_lifespan import LifespanManager
from starlette.types import Message

from bench.writer import issue_tasks
from live_progress.web.app import create_app
from live_progress.web.settings import Settings
from tests.support.inprocess import serve
from tests.support.process_state import changes, process_state


async def test_create_app_changes_nothing_process_wide(settings: Settings) -> None:
    before = process_state()
    async with serve(settings) as client:
        assert (await client.get("/healthz")).json()["subscribed"]
        assert changes(before, process_state()) == {}
    assert changes(before, process_state()) == {}


async def test_open_streams_end_when_the_lifespan_ends(settings: Settings) -> None:
    [task_id] = issue_tasks(settings.redis_url, 1, 600)
    path = f"/audio/transcribe/events/{task_id}"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"text/event-stream")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    requests: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[Message] = []
    first_event = asyncio.Event()

    async def receive() -> Message:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)
        if message.get("body"):
            first_event.set()

    async with LifespanManager(create_app(settings)) as manager:
        stream = asyncio.create_task(manager.app(scope, receive, send))
        await asyncio.wait_for(first_event.wait(), 10)
        assert sent[0]["status"] == 200
    # Not cut off: ended, as at the end of a task, with the response's last (empty) body.
    await asyncio.wait_for(stream, 5)
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}

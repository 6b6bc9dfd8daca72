"""One watcher's bounded queue of events (app.hub.Inbox)."""

from __future__ import annotations

import asyncio

import pytest

from live_progress.contract import view_task
from live_progress.web.engine.events import TaskEvent, stream_lost_event
from live_progress.web.engine.hub import Inbox


def _progress(percent: int) -> TaskEvent:
    return TaskEvent.from_view(view_task({"status": "PROGRESS", "result": {"percent": percent, "description": ""}}))


DONE = TaskEvent.from_view(view_task({"status": "SUCCESS", "result": {"output_type": "batchtext", "texts": []}}))
MARK = TaskEvent.from_view(view_task({"status": "PROGRESS", "result": {"description": "end of queue marker"}}))


async def _contents(inbox: Inbox) -> list[TaskEvent]:
    """Every queued event, in order: a marker put behind them comes out right after them.
    Only for an inbox that is not full, or the marker would push the oldest out."""
    inbox.put(MARK)
    events = []
    while (event := await asyncio.wait_for(inbox.get(), timeout=5)) is not MARK:
        events.append(event)
    return events


async def test_events_come_out_in_the_order_they_went_in() -> None:
    inbox = Inbox(maxsize=10)
    events = [_progress(n) for n in (10, 20, 30)] + [DONE]
    for event in events:
        inbox.put(event)

    assert await _contents(inbox) == events


async def test_overflow_drops_the_oldest() -> None:
    inbox = Inbox(maxsize=3)
    for n in range(1, 6):
        inbox.put(_progress(n))

    kept = [await inbox.get() for _ in range(3)]

    assert kept == [_progress(3), _progress(4), _progress(5)]
    assert await _contents(inbox) == []


async def test_overflow_keeps_the_final_event() -> None:
    inbox = Inbox(maxsize=2)
    for n in range(1, 50):
        inbox.put(_progress(n))
    inbox.put(DONE)

    first = await inbox.get()
    final = await inbox.get()

    assert (first, final) == (_progress(49), DONE)


async def test_stream_lost_after_the_final_event_keeps_both() -> None:
    inbox = Inbox(maxsize=2)
    lost = stream_lost_event("Lost the connection to Redis")
    for event in (_progress(1), _progress(2), DONE, lost):
        inbox.put(event)

    assert [await inbox.get(), await inbox.get()] == [DONE, lost]


async def test_discard_through_drops_up_to_and_including_the_last_occurrence() -> None:
    inbox = Inbox(maxsize=10)
    a, b, c = _progress(1), _progress(2), _progress(3)
    for event in (a, b, a, c, DONE):
        inbox.put(event)

    inbox.discard_through(a.id)

    assert await _contents(inbox) == [c, DONE]


async def test_discard_through_the_newest_event_empties_the_inbox() -> None:
    inbox = Inbox(maxsize=10)
    for n in (1, 2, 3):
        inbox.put(_progress(n))

    inbox.discard_through(_progress(3).id)

    assert await _contents(inbox) == []


@pytest.mark.parametrize(
    "event_id",
    [pytest.param(_progress(99).id, id="unknown-id"), pytest.param(None, id="none")],
)
async def test_discard_through_an_absent_id_keeps_everything(event_id: str | None) -> None:
    inbox = Inbox(maxsize=10)
    events = [_progress(1), _progress(2), DONE]
    for event in events:
        inbox.put(event)

    inbox.discard_through(event_id)

    assert await _contents(inbox) == events


async def test_get_waits_until_something_is_put() -> None:
    inbox = Inbox(maxsize=4)
    waiting = asyncio.Event()

    async def watcher() -> TaskEvent:
        waiting.set()
        return await inbox.get()

    task = asyncio.create_task(watcher())
    await waiting.wait()  # the watcher has run up to its first await, inside get()

    assert not task.done()
    inbox.put(DONE)
    assert await asyncio.wait_for(task, timeout=5) is DONE


async def test_get_waits_again_once_the_inbox_is_empty() -> None:
    inbox = Inbox(maxsize=4)
    inbox.put(_progress(1))
    assert await inbox.get() == _progress(1)
    waiting = asyncio.Event()

    async def watcher() -> TaskEvent:
        waiting.set()
        return await inbox.get()

    task = asyncio.create_task(watcher())
    await waiting.wait()

    assert not task.done()
    inbox.put(_progress(2))
    assert await asyncio.wait_for(task, timeout=5) == _progress(2)


async def test_events_put_while_a_watcher_waits_all_arrive() -> None:
    inbox = Inbox(maxsize=8)
    received: list[TaskEvent] = []

    async def watcher() -> None:
        while True:
            event = await inbox.get()
            received.append(event)
            if event.final:
                return

    task = asyncio.create_task(watcher())
    events = [_progress(n) for n in range(5)] + [DONE]
    for event in events:
        inbox.put(event)
        await asyncio.sleep(0)  # let the watcher take it: interleave puts and gets
    await asyncio.wait_for(task, timeout=5)

    assert received == events


@pytest.mark.parametrize("maxsize", [1, 0, -3], ids=["one", "zero", "negative"])
def test_maxsize_below_2_is_rejected(maxsize: int) -> None:
    with pytest.raises(ValueError, match=rf"maxsize has value {maxsize}; it must be at least 2"):
        Inbox(maxsize)

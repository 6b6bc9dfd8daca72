"""A deploy in the middle of a batch: SIGTERM stops the worker within seconds, and the batch
goes on on the next worker where it stopped, on one stream, without an error or a step back."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from live_progress.launch.processes import Process, start_web, start_worker
from live_progress.launch.redis_server import RedisServer
from tests.conftest import ARTIFACTS
from tests.support.clients import Event, percents, read_events, submit

pytestmark = pytest.mark.integration

# The contract: a worker stopped with SIGTERM in the middle of a batch exits within 10 s.
HANDOVER_SECONDS = 10


@pytest.fixture(scope="module")
def stop_env(redis_server: RedisServer, service_env: dict[str, str]) -> dict[str, str]:
    # A database of its own; a short WORKER_LOST_AFTER, so a handover taken for a death would show.
    return {**service_env, "REDIS_URL": redis_server.database_url(16), "WORKER_LOST_AFTER": "3"}


@pytest.fixture(scope="module")
def web(stop_env: dict[str, str]) -> Iterator[str]:
    process, base_url = start_web(stop_env, ARTIFACTS, name="web-stop")
    yield base_url
    process.stop()


@pytest.fixture
async def client(web: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=web, timeout=httpx.Timeout(30, read=120)) as client:
        yield client


async def transcribing_file(client: httpx.AsyncClient, result_url: str, number: int) -> None:
    deadline = time.monotonic() + 120
    while True:
        root = (await client.get(result_url)).json()["root"]
        if (
            root.get("title") == "progress"
            and root.get("current", 0) >= number
            and "Transcribing" in root["description"]
        ):
            return
        assert time.monotonic() < deadline, root
        await asyncio.sleep(0.05)


def assert_no_segment_twice(events: list[Event]) -> None:
    """Each file's live segments follow one another: none again, none going back in time."""
    ends: dict[str, list[float]] = {}
    for event in events:
        if event.event == "segment":
            ends.setdefault(event.data["root"]["file"], []).append(event.data["root"]["end"])
    assert len(ends) == 6, ends.keys()
    for file, seen in ends.items():
        assert seen == sorted(set(seen)), (file, seen)


def stop(worker: Process, whole_group: bool) -> float:
    """SIGTERM as systemd and honcho send it (the group) or as a container runtime does (the
    main process only); returns the seconds until the worker exited."""
    sent = time.monotonic()
    if whole_group:
        os.killpg(worker.popen.pid, signal.SIGTERM)
    else:
        worker.popen.send_signal(signal.SIGTERM)
    worker.popen.wait(60)
    exited = time.monotonic() - sent
    worker.stop()
    return exited


@pytest.mark.parametrize("whole_group", [True, False], ids=["group", "main-process-only"])
async def test_a_worker_stopped_mid_batch_hands_it_to_the_next_worker(
    client: httpx.AsyncClient, stop_env: dict[str, str], audio_root: Path, whole_group: bool
) -> None:
    first = start_worker(stop_env, ARTIFACTS, name="worker-stopped")
    try:
        task = await submit(client, audio_root / "many")
        watching = asyncio.create_task(read_events(client, task["events_url"]))
        await transcribing_file(client, task["result_url"], 2)
        exited_after = await asyncio.to_thread(stop, first, whole_group)
    finally:
        first.stop()
    assert exited_after <= HANDOVER_SECONDS, f"the worker took {exited_after:.1f} s to exit"
    waiting = (await client.get(task["result_url"])).json()["root"]
    assert waiting["title"] == "progress", waiting
    assert waiting["description"].startswith("Worker stopped; waiting for another to carry on"), waiting
    assert waiting["current"] >= 1

    second = start_worker(stop_env, ARTIFACTS, name="worker-resumed")
    started = time.monotonic()  # the new worker is ready
    try:
        events = await asyncio.wait_for(watching, 120)
    finally:
        second.stop()

    assert [e.event for e in events if e.event not in ("progress", "status", "segment")] == ["result"]
    assert percents(events) == sorted(percents(events)), "percent went back"
    assert_no_segment_twice(events)
    moving_again = min(
        e.at for e in events if e.at > started and "Transcribing" in e.data["root"].get("description", "")
    )
    texts = [t["value"] for t in events[-1].data["root"]["texts"]]
    assert len(texts) == 6 and all(t and "error" not in t.lower() for t in texts)
    # The six files are copies of one recording: the file stopped in the middle reads like the others.
    words = [len(t.split()) for t in texts]
    assert max(words) <= min(words) * 1.2, texts

    done_before = waiting["current"]
    resumed = re.search(r"Resuming \S+ at (\d+)%", second.log())
    assert resumed and int(resumed.group(1)) == waiting["percent"]
    stopped = re.search(r"Handed \S+ on at (\d+)%(?:, ([\d.]+) s into file)?", first.log())
    assert stopped
    # Each file is one 27.2 s window for the model: what it had decoded past the stop is done again.
    twice = 27.17 - float(stopped.group(2)) if stopped.group(2) else 0.0
    print(
        f"\nSIGTERM ({'group' if whole_group else 'main process'}) to exit: {exited_after:.2f} s; "
        f"new worker ready to the batch moving: {moving_again - started:.2f} s; "
        f"files done before the stop: {done_before}; handed on at {waiting['percent']}%; "
        f"audio transcribed twice: {twice:.1f} s"
    )


def mid_batch(description: str) -> bool:
    """Two workers at a file of the 6, at least one file done and at least one not yet claimed."""
    found = re.search(r"(\d+) running, (\d+) done", description)
    return found is not None and int(found[1]) == 2 and 1 <= int(found[2]) <= 3


async def test_a_split_batch_goes_on_after_a_deploy_stops_all_its_workers(
    client: httpx.AsyncClient, stop_env: dict[str, str], audio_root: Path
) -> None:
    split_env = {**stop_env, "SPLIT_BATCHES": "2", "WHISPER_CPU_THREADS": "1"}
    old = [start_worker(split_env, ARTIFACTS, name=f"worker-split-old-{n}") for n in (1, 2)]
    try:
        task = await submit(client, audio_root / "many")
        watching = asyncio.create_task(read_events(client, task["events_url"]))
        # Both workers at a file, one file done at least and one still to claim. Polled, so a
        # state that lasts a moment ("2 running, 1 done" until the next file is claimed) may be
        # missed: any state of that kind will do.
        deadline = time.monotonic() + 120
        while not mid_batch((await client.get(task["result_url"])).json()["root"].get("description", "")):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        exits = await asyncio.gather(*(asyncio.to_thread(stop, worker, True) for worker in old))
    finally:
        for worker in old:
            worker.stop()
    assert max(exits) <= HANDOVER_SECONDS, f"the workers took {exits} s to exit"
    waiting = (await client.get(task["result_url"])).json()["root"]
    assert waiting["description"].startswith("Worker stopped; waiting for another to carry on"), waiting

    new = [start_worker(split_env, ARTIFACTS, name=f"worker-split-new-{n}") for n in (1, 2)]
    try:
        events = await asyncio.wait_for(watching, 120)
    finally:
        for worker in new:
            worker.stop()
    assert [e.event for e in events if e.event not in ("progress", "status", "segment")] == ["result"]
    assert percents(events) == sorted(percents(events)), "percent went back"
    assert_no_segment_twice(events)
    assert len(events[-1].data["root"]["texts"]) == 6

    def transcribed(workers: list[Process]) -> list[str]:
        return [name for worker in workers for name in re.findall(r"Transcribed (\S+), file", worker.log())]

    before, after = transcribed(old), transcribed(new)
    assert sorted(before + after) == sorted(f"story-{n}.mp3" for n in range(6)), (before, after)
    print(
        f"\nSIGTERM to exit (split batch, two workers): {', '.join(f'{s:.2f} s' for s in exits)}; "
        f"files done before the stop: {len(before)}"
    )

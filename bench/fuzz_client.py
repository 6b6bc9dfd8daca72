"""bench.fuzz's well-behaved clients: one follows real jobs over SSE as EventSource would, one
polls /healthz. Each writes down what it saw go wrong; the run's verdict reads it."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import itertools
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse

from bench import ROOT
from bench.fuzz_api import FinishedJobs

_CLIPS = ROOT / "tests" / "data" / "batch"
_RECONNECTS = 5


def job_root(root: Path) -> Path:
    """ALLOWED_ROOTS for the run: the committed batch of clips and a small CSV to train on."""
    shutil.copytree(_CLIPS, root / "batch")
    with (root / "table.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["x", "y", "label"])
        # Two separable classes, enough rows for the default folds.
        writer.writerows([n, (n * 7) % 11, "low" if n < 30 else "high"] for n in range(60))
    return root


def job_requests(root: Path) -> list[tuple[str, dict[str, object]]]:
    """A real job of every plugin: (submit path, body)."""
    clips = {"inputs": {"input_dir": {"path": str(root / "batch")}}}
    return [
        ("/audio/transcribe", clips),
        ("/audio/inspect", clips),
        (
            "/tabular/train",
            {"inputs": {"csv_file": {"path": str(root / "table.csv")}, "target": {"text": "label"}}},
        ),
    ]


@dataclass
class Followed:
    """What the well-behaved client saw of its jobs, and what was wrong with it."""

    jobs: int = 0
    segments: int = 0
    reconnects: int = 0
    problems: list[str] = field(default_factory=list)


async def follow_jobs(
    base_url: str, root: Path, fuzzing: asyncio.Event, followed: Followed, finished: FinishedJobs
) -> None:
    """Real jobs one after another while ``fuzzing`` is set (at least one of each plugin), each
    followed to its end over SSE and checked against the finished stream's replay."""
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30, read=120)) as client:
        requests = job_requests(root)
        for n in itertools.count():
            if n >= len(requests) and not fuzzing.is_set():
                return
            path, body = requests[n % len(requests)]
            submitted = await client.post(path, json=body)
            if submitted.status_code != 202:
                followed.problems.append(f"submit {path}: {submitted.status_code} {submitted.text[:200]}")
                return
            events_url = submitted.json()["events_url"]
            live = await _follow(client, events_url, followed)
            followed.jobs += 1
            followed.segments += sum(1 for event, _ in live if event == "segment")
            followed.problems += _compare(events_url, live, await _replay(client, events_url))
            finished.record(path, submitted.json()["task_id"])


async def _follow(client: httpx.AsyncClient, url: str, followed: Followed) -> list[tuple[str, str]]:
    """The stream's events as (event, data), reconnecting with Last-Event-ID as EventSource does
    (a few times at most: this service is not being restarted)."""
    seen: list[tuple[str, str]] = []
    last_id: str | None = None
    for _ in range(_RECONNECTS):
        headers = {"Last-Event-ID": last_id} if last_id else {}
        try:
            async with aconnect_sse(client, "GET", url, headers=headers) as source:
                status = source.response.status_code
                if status != 200:
                    if status != 204:
                        followed.problems.append(f"{url}: {status} {(await source.response.aread())[:200]!r}")
                    return seen
                async for event in source.aiter_sse():
                    last_id = event.id or last_id
                    seen.append((event.event, event.data))
                    if event.event in ("result", "error"):
                        return seen
        except httpx.TransportError as exc:
            followed.problems.append(f"{url}: the stream broke: {exc!r}")
        followed.reconnects += 1
    return seen


async def _replay(client: httpx.AsyncClient, url: str) -> list[tuple[str, str]]:
    """The finished task's stream from its start: every segment it published, then its result."""
    async with aconnect_sse(client, "GET", url) as source:
        return [(event.event, event.data) async for event in source.aiter_sse()]


def _compare(url: str, live: list[tuple[str, str]], replay: list[tuple[str, str]]) -> list[str]:
    """Every segment once and in order, then the result (content compared, not ids: an event's
    id is a cursor, not an identity)."""
    problems = []
    if not live or live[-1][0] != "result":
        problems.append(f"{url}: the stream ended in {live[-1][0] if live else 'nothing'}, not a result")
    got = [data for event, data in live if event == "segment"]
    want = [data for event, data in replay if event == "segment"]
    if got != want:
        missed = [json.loads(data) for data in want if data not in got][:3]
        twice = len(got) - len(set(got))
        problems.append(f"{url}: {len(got)} segments followed, {len(want)} published; missed {missed}, {twice} twice")
    if live and replay[-1:] != live[-1:]:
        problems.append(f"{url}: the followed result differs from the replay's")
    return problems


@dataclass
class Health:
    checks: int = 0
    problems: list[str] = field(default_factory=list)


async def watch_health(base_url: str, done: asyncio.Event, health: Health, every: float = 0.5) -> None:
    """/healthz every ``every`` seconds until ``done``: each answer must be 200 and ok."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        while not done.is_set():
            try:
                response = await client.get("/healthz")
                if response.status_code != 200 or response.json().get("status") != "ok":
                    health.problems.append(f"/healthz: {response.status_code} {response.text[:200]}")
            except httpx.HTTPError as exc:
                health.problems.append(f"/healthz: {exc!r}")
            health.checks += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), every)

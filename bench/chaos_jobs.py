"""bench.chaos's jobs and watchers: folders of committed clips, POST /audio/transcribe, and SSE
watchers that drop their connection now and then and come back with Last-Event-ID.

Everything a watcher reads is kept, per connection, with the time it came: the checks
(bench/chaos_checks.py) work on that record alone.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import EventSource

from bench import ROOT
from live_progress.plugins.audio.worker.transcription import probe_duration

DATA = ROOT / "tests" / "data"
# The committed speech: four clips of 5-6 s, one of 27 s, three of 48-63 s (tests/data/README.md).
CLIP_PATHS = [
    DATA / "batch" / "weather.mp3",
    DATA / "batch" / "train.WAV",
    DATA / "batch" / "sub" / "cooking.flac",
    DATA / "with_corrupt" / "good.ogg",
    DATA / "long" / "story.mp3",
    DATA / "speech" / "garden.ogg",
    DATA / "speech" / "harbour.ogg",
    DATA / "speech" / "museum.ogg",
]
FORMATS = ("txt", "srt", "vtt", "tsv", "json")
# Each connection that will be cut (CUT_SHARE of them) is cut this many seconds after it opened.
CUT_SHARE = 0.35
CUT_AFTER = (0.3, 5.0)
NEW_CONNECTIONS = httpx.Limits(max_connections=None, max_keepalive_connections=0)


@dataclass(frozen=True)
class Clip:
    path: Path
    seconds: float

    @property
    def name(self) -> str:
        return self.path.name


def clips() -> list[Clip]:
    return [Clip(path, probe_duration(path)) for path in CLIP_PATHS]


@dataclass(frozen=True)
class JobSpec:
    """A job: its clips (each copied as ``NN-<clip>``, some in a subfolder) and its parameters."""

    number: int
    clips: tuple[Clip, ...]
    subfolder: tuple[bool, ...]
    parameters: dict[str, Any]

    @property
    def accurate(self) -> bool:
        return self.parameters.get("mode", "accurate") == "accurate"

    @property
    def variant(self) -> tuple[bool, bool]:
        """What besides the mode changes a transcript's words: (vad, word_timestamps)."""
        return bool(self.parameters.get("vad", False)), bool(self.parameters.get("word_timestamps", False))

    @property
    def seconds(self) -> float:
        return sum(clip.seconds for clip in self.clips)

    def relative_paths(self) -> list[str]:
        return [
            (f"sub/{n:02d}-{clip.name}" if nested else f"{n:02d}-{clip.name}")
            for n, (clip, nested) in enumerate(zip(self.clips, self.subfolder, strict=True))
        ]

    def make_folder(self, parent: Path, name: str) -> Path:
        """A fresh folder with copies of the clips: nothing of an earlier run in it."""
        folder = parent / name
        folder.mkdir(parents=True)
        for relative, clip in zip(self.relative_paths(), self.clips, strict=True):
            target = folder / relative
            target.parent.mkdir(exist_ok=True)
            shutil.copy(clip.path, target)
        return folder

    def describe(self) -> str:
        p = self.parameters
        extra = [key for key in ("vad", "word_timestamps") if p.get(key)]
        return (
            f"{p.get('mode', 'accurate')}, {','.join(p.get('formats', ['txt']))}"
            f"{''.join(', ' + key for key in extra)}; {len(self.clips)} clips, {self.seconds:.0f} s"
        )


class JobMaker:
    """The run's jobs, one after another, from the seeded ``rng``: 2 to 4 clips, one of them at
    least 27 s long (so a fault finds the job mid-file), accurate mode in 3 jobs of 4 (with one
    of ``variants``), else fast; formats at random, some clips in a subfolder."""

    def __init__(self, rng: random.Random, pool: list[Clip], variants: list[tuple[bool, bool]]) -> None:
        self.rng = rng
        self.pool = pool
        self.variants = variants
        self.made = 0

    def next(self) -> JobSpec:
        rng = self.rng
        self.made += 1
        long = [clip for clip in self.pool if clip.seconds >= 25]
        chosen = [rng.choice(long)]
        chosen += rng.sample([clip for clip in self.pool if clip is not chosen[0]], rng.randint(1, 3))
        rng.shuffle(chosen)
        parameters: dict[str, Any] = {"formats": rng.sample(FORMATS, rng.randint(1, 3))}
        if rng.random() < 0.75:
            vad, words = rng.choice(self.variants)
            parameters["mode"] = "accurate"
        else:
            vad, words = rng.random() < 0.5, rng.random() < 0.3
            parameters["mode"] = "fast"
        if vad:
            parameters["vad"] = True
        if words:
            parameters["word_timestamps"] = True
        nested = tuple(rng.random() < 0.2 for _ in chosen)
        return JobSpec(self.made, tuple(chosen), nested, parameters)


def reference_spec(pool: list[Clip], variant: tuple[bool, bool], number: int) -> JobSpec:
    """One job with each clip once, accurate, undisturbed: the transcripts the others must equal."""
    parameters: dict[str, Any] = {"formats": ["txt"], "mode": "accurate"}
    if variant[0]:
        parameters["vad"] = True
    if variant[1]:
        parameters["word_timestamps"] = True
    return JobSpec(number, tuple(pool), tuple(False for _ in pool), parameters)


@dataclass
class Event:
    at: float  # time.time()
    kind: str  # the SSE event: status, progress, segment, result, error
    id: str
    data: dict[str, Any]

    @property
    def final(self) -> bool:
        """result, or a task's error (not the web's "reconnect to resume", which has no root)."""
        return self.kind == "result" or (self.kind == "error" and "root" in self.data)

    @property
    def reconnect(self) -> bool:
        return self.kind == "error" and bool(self.data.get("reconnect"))


@dataclass(eq=False)
class Connection:
    opened: float
    last_event_id: str | None  # sent as Last-Event-ID
    status: int | None = None
    closed: float | None = None
    end: str = ""  # final, cut (by the watcher), reconnect (the web's error), eof, dropped: …, http NNN
    events: list[Event] = field(default_factory=list)

    def open_at(self, at: float) -> bool:
        return self.status == 200 and self.opened <= at and (self.closed is None or at < self.closed)


@dataclass(eq=False)
class Watcher:
    number: int
    cut_share: float = CUT_SHARE  # of its connections, those it cuts itself
    connections: list[Connection] = field(default_factory=list)
    last_id: str | None = None  # of the last event read that had one
    gave_up: bool = False

    def events(self) -> list[Event]:
        return [event for connection in self.connections for event in connection.events]

    def finals(self) -> list[Event]:
        return [event for event in self.events() if event.final]


@dataclass(eq=False)
class Job:
    spec: JobSpec
    folder: Path
    task_id: str = ""
    events_url: str = ""
    result_url: str = ""
    submitted: float = 0.0  # the first POST
    accepted: float | None = None  # the 202
    post_attempts: int = 0
    post_ambiguous: int = 0  # POSTs whose answer was lost (a task may have been made: an orphan)
    watchers: list[Watcher] = field(default_factory=list)
    polled: dict[str, Any] | None = None  # GET result_url once the run is over
    files: list[str] = field(default_factory=list)  # absolute paths, in the batch's order

    @property
    def name(self) -> str:
        return f"job-{self.spec.number:03d}"

    def finished_at(self) -> float | None:
        """When the first watcher had its final event."""
        times = [final.at for watcher in self.watchers for final in watcher.finals()]
        return min(times) if times else None

    def started_at(self) -> float | None:
        """When the first watcher saw it past PENDING."""
        times = [e.at for w in self.watchers for e in w.events() if e.kind in ("progress", "segment")]
        return min(times) if times else None

    def all_events(self) -> list[Event]:
        return sorted((e for w in self.watchers for e in w.events()), key=lambda e: e.at)


async def submit(client: httpx.AsyncClient, job: Job, give_up: float) -> bool:
    """POST the job until the service takes it (a 503 while Redis restarts, a connection lost with
    a web process are retried); returns whether it was taken."""
    body = {"inputs": {"input_dir": {"path": str(job.folder)}}, "parameters": job.spec.parameters}
    job.submitted = time.time()
    while time.time() < give_up:
        job.post_attempts += 1
        try:
            response = await client.post("/audio/transcribe", json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            await asyncio.sleep(0.5)
            continue
        except httpx.TransportError:
            job.post_ambiguous += 1
            await asyncio.sleep(0.5)
            continue
        if response.status_code == 202:
            answer = response.json()
            job.task_id, job.events_url, job.result_url = answer["task_id"], answer["events_url"], answer["result_url"]
            job.accepted = time.time()
            return True
        if response.status_code >= 500:
            await asyncio.sleep(min(2.0, float(response.headers.get("Retry-After", "1"))))
            continue
        raise RuntimeError(f"{job.name}: POST answered {response.status_code}: {response.text}")
    return False


async def watch(base_url: str, job: Job, watcher: Watcher, rng: random.Random, give_up: float) -> None:
    """Follow the job to its final event; some connections are cut at random and resumed with
    the last id read (Last-Event-ID), as are connections the service ends or loses."""
    timeout = httpx.Timeout(10, read=20)  # the web pings every 2 s
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=NEW_CONNECTIONS) as client:
        while time.time() < give_up:
            connection = Connection(time.time(), watcher.last_id)
            watcher.connections.append(connection)
            cut = rng.uniform(*CUT_AFTER) if rng.random() < watcher.cut_share else None
            headers = {"Last-Event-ID": watcher.last_id} if watcher.last_id else {}
            try:
                async with client.stream("GET", job.events_url, headers=headers) as response:
                    connection.status = response.status_code
                    if response.status_code == 204:
                        connection.end = "http 204"
                        return
                    if response.status_code != 200:
                        connection.end = f"http {response.status_code}"
                        await response.aread()
                    else:
                        try:
                            async with asyncio.timeout(cut):
                                if await _read(EventSource(response), connection, watcher):
                                    return
                        except TimeoutError:
                            connection.end = "cut"
            except httpx.TransportError as exc:
                connection.end = f"dropped: {type(exc).__name__}"
            finally:
                connection.closed = time.time()
            await asyncio.sleep(0.5 if connection.end != "cut" else rng.uniform(0.1, 1.5))
    watcher.gave_up = True


async def _read(source: EventSource, connection: Connection, watcher: Watcher) -> bool:
    """Reads events until the stream ends; True once the final event came."""
    async for sse in source.aiter_sse():
        if not sse.data:
            continue  # the retry: hint alone, no event (as in browsers)
        event = Event(time.time(), sse.event, sse.id, json.loads(sse.data))
        connection.events.append(event)
        if sse.id:
            watcher.last_id = sse.id
        if event.final:
            connection.end = "final"
            return True
        if event.reconnect:
            connection.end = "reconnect"
            return False
    connection.end = "eof"
    return False


async def wait_until_done(job: Job, give_up: float) -> None:
    while time.time() < give_up and not all(w.finals() or w.gave_up for w in job.watchers):
        await asyncio.sleep(0.2)

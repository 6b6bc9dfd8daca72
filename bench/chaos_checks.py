"""bench.chaos's verdict: what every watcher read, the reference transcripts, the faults and the
Redis writes (bench/chaos_monitor.py) turned into violations and figures.

Segments are compared by content (file, start, end, text): an event id is a cursor, not an
identity. Times are this machine's clock (time.time()), which Redis's MONITOR also uses.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.chaos_cluster import Worker
from bench.chaos_jobs import Event, Job, Watcher
from bench.chaos_monitor import Ledger, Write

# faster-whisper decodes 30-second windows: what a lost worker had decoded past its last
# published segment is at most the rest of the window it was in.
WINDOW = 30.0
LOST_TEXT = "Worker lost"
STOPPED_TEXT = "Worker stopped"
_SECONDS = re.compile(r'"seconds": ([0-9.]+)')


@dataclass(eq=False)
class Fault:
    kind: str  # kill-worker, term-worker, stop-worker, kill-web, restart-redis
    at: float
    target: str  # a worker's name, a web process's pid, "redis"
    tasks: set[str] = field(default_factory=set)  # what the worker was executing (its heartbeats)
    until: float | None = None  # SIGCONT, the web process or Redis serving again
    note: str = ""


@dataclass(frozen=True)
class Violation:
    job: str  # "job-007 (task id)" or "-" for one about no job
    what: str


def segment_key(event: Event) -> tuple[str, float, float, str]:
    root = event.data["root"]
    return root.get("file", ""), root.get("start", 0.0), root.get("end", 0.0), root.get("text", "")


def words(text: str) -> str:
    return " ".join(text.split())


def job_label(job: Job) -> str:
    return f"{job.name} ({job.task_id or 'never accepted'})"


class Verdict:
    """Every check of the run; ``violations`` and the figures, once built."""

    def __init__(
        self,
        jobs: list[Job],
        references: dict[tuple[str, tuple[bool, bool]], str],
        faults: list[Fault],
        workers: list[Worker],
        writes: list[Write],
        lost_after: float,
        start: float,
    ) -> None:
        self.jobs = jobs
        self.references = references
        self.faults = faults
        self.workers = {worker.name: worker for worker in workers}
        self.ledger = Ledger(writes)
        self.lost_after = lost_after
        self.start = start
        self.by_task = {job.task_id: job for job in jobs if job.task_id}
        # Every task id of a job: its own, and its helpers' (a split batch's, from the job's helpers set).
        self.job_of = {helper: self.by_task[of] for helper, of in self.ledger.helpers().items() if of in self.by_task}
        self.job_of.update(self.by_task)
        self.violations: list[Violation] = []
        self._interrupted: dict[tuple[str, str], str] | None = None

    def rel(self, at: float) -> str:
        return f"+{at - self.start:.1f} s"

    def faults_on(self, job: Job) -> str:
        ended = job.finished_at() or float("inf")
        hits = [f for f in self.faults if f.at < ended and any(self.job_of.get(t) is job for t in f.tasks)]
        return "; ".join(f"{f.kind} of {f.target} at {self.rel(f.at)}" for f in hits) or "no worker fault hit it"

    def add(self, job: Job | None, what: str) -> None:
        self.violations.append(Violation(job_label(job) if job else "-", what))

    # The checks ----------------------------------------------------------------------------------

    def check(self) -> list[Violation]:
        for job in self.jobs:
            if job.accepted is None:
                self.add(job, f"the service never took it ({job.post_attempts} POSTs)")
                continue
            for watcher in job.watchers:
                self._finals(job, watcher)
                self._percents(job, watcher)
                self._segments(job, watcher)
            self._transcripts(job)
            self._stable(job)
        self._lost_while_alive()
        self._written_after_takeover()
        return self.violations

    def _finals(self, job: Job, watcher: Watcher) -> None:
        finals = watcher.finals()
        who = f"watcher {watcher.number}"
        if len(finals) != 1:
            kinds = ", ".join(f"{e.kind} at {self.rel(e.at)}" for e in finals) or "none"
            ends = Counter(c.end for c in watcher.connections)
            self.add(
                job,
                f"{who} got {len(finals)} final events ({kinds}) over {len(watcher.connections)} connections "
                f"(ends: {dict(ends)}); {self.faults_on(job)}",
            )
        elif finals[0].kind != "result":
            value = finals[0].data.get("root", {}).get("value", finals[0].data)
            self.add(job, f"{who} ended with error {value!r} at {self.rel(finals[0].at)}; {self.faults_on(job)}")
        for connection in watcher.connections:
            if connection.status not in (200, 503, None):
                self.add(job, f"{who}: a connection answered HTTP {connection.status} at {self.rel(connection.opened)}")

    def _percents(self, job: Job, watcher: Watcher) -> None:
        last_before = None
        for n, connection in enumerate(watcher.connections):
            percents = [(e.at, e.data["root"]["percent"]) for e in connection.events if e.kind == "progress"]
            for (_, a), (at, b) in zip(percents, percents[1:], strict=False):
                if b < a:
                    where = f"watcher {watcher.number}, connection {n + 1}"
                    self.add(job, f"{where}: percent went back {a} -> {b} at {self.rel(at)}")
            if percents and last_before is not None and connection.last_event_id and percents[0][1] < last_before:
                self.add(
                    job,
                    f"watcher {watcher.number}: percent went back {last_before} -> {percents[0][1]} across a "
                    f"Last-Event-ID resume at {self.rel(percents[0][0])}",
                )
            if percents:
                last_before = percents[-1][1]

    def _segments(self, job: Job, watcher: Watcher) -> None:
        seen: dict[tuple[str, float, float, str], int] = {}
        for n, connection in enumerate(watcher.connections):
            here: set[tuple[str, float, float, str]] = set()
            for event in connection.events:
                if event.kind != "segment":
                    continue
                key = segment_key(event)
                segment = f"segment {key[0].rsplit('/', 1)[-1]} {key[1]}-{key[2]} {key[3][:40]!r}"
                if key in here:
                    where = f"watcher {watcher.number}, connection {n + 1}"
                    self.add(job, f"{where}: {segment} came twice on one connection ({self.rel(event.at)})")
                elif key in seen:
                    self.add(
                        job,
                        f"watcher {watcher.number}: {segment} came again after a Last-Event-ID resume "
                        f"(connection {seen[key] + 1}, then {n + 1}, {self.rel(event.at)})",
                    )
                here.add(key)
                seen.setdefault(key, n)

    def _transcripts(self, job: Job) -> None:
        result = self.result_of(job)
        if result is None:
            return
        texts = result.get("texts", [])
        if len(texts) != len(job.spec.clips):
            self.add(job, f"the result has {len(texts)} texts for {len(job.spec.clips)} files")
            return
        by_title = {text["title"]: text for text in texts}
        for relative, clip in zip(job.spec.relative_paths(), job.spec.clips, strict=True):
            text = by_title.get(str(job.folder / relative))
            if text is None:
                self.add(job, f"no text for {relative} in the result")
            elif text.get("subtitle") == "error":
                self.add(job, f"{relative}: {text['value']}")
            elif job.spec.accurate:
                want = self.references.get((clip.name, job.spec.variant))
                if want is None or words(text["value"]) == words(want):
                    continue
                # A file cut mid-way is resumed after the model's own tokens (checkpoint.Partial):
                # it must come out as the undisturbed run's, commas and all.
                cut = self.interrupted().get((job.task_id, str(job.folder / relative)))
                differs = _diff(want, text["value"])
                where = f" (it was cut mid-way by {cut} and carried on)" if cut else f"; {self.faults_on(job)}"
                self.add(job, f"{relative}: transcript differs from the reference run {differs}{where}")

    def interrupted(self) -> dict[tuple[str, str], str]:
        """(job id, file) -> the fault that cut the file mid-way (its worker held it), for each
        file a worker fault interrupted."""
        if self._interrupted is None:
            self._interrupted = {}
            for fault in self.faults:
                if fault.kind.endswith("-worker"):
                    for job_id, index in self._held(fault.target, fault.at):
                        job = self.by_task.get(job_id)
                        if job is not None and index < len(job.files):
                            reached = self._reported(fault.target, job_id, index, fault.at)
                            what = f"{fault.kind} of {fault.target} at {self.rel(fault.at)}, {reached:.1f} s into it"
                            self._interrupted.setdefault((job_id, job.files[index]), what)
        return self._interrupted

    def _stable(self, job: Job) -> None:
        finals = [f for w in job.watchers for f in w.finals()]
        if job.polled is None or not finals:
            return
        if any(f.data != finals[0].data for f in finals):
            self.add(job, "watchers got different final events")
        if job.polled != finals[0].data:
            self.add(job, f"the result changed after the final event: polling now answers {str(job.polled)[:120]}")

    def result_of(self, job: Job) -> dict[str, Any] | None:
        for watcher in job.watchers:
            for final in watcher.finals():
                if final.kind == "result":
                    return final.data["root"]
        return None

    def _lost_while_alive(self) -> None:
        """A task called lost while the worker that last beat for it was neither killed nor paused."""
        for mark in self.ledger.lost_marks():
            job = self.job_of.get(mark.task)
            if job is None:
                continue
            what = "its job" if mark.task == job.task_id else f"its helper task {mark.task}"
            if mark.owner is None:
                continue  # no heartbeat ever seen: nothing says a worker was executing it
            worker = self.workers.get(mark.owner)
            if worker is None:
                self.add(job, f"{what} was called lost at {self.rel(mark.at)}; its heartbeat came from {mark.owner}")
                continue
            killed = worker.killed is not None and worker.killed <= mark.at
            paused = any(start - 1 <= mark.at and end >= mark.at - self.lost_after for start, end in worker.paused)
            exited = worker.exited is not None and worker.exited <= mark.at
            if killed or paused:
                continue
            state = "had exited after SIGTERM" if exited and worker.terminated else "was alive"
            self.add(
                job,
                f"{what} was called lost at {self.rel(mark.at)} while {worker.name}, which last renewed its "
                f"heartbeat at {self.rel(mark.last_beat or 0)}, {state} (neither killed nor paused)",
            )

    def _written_after_takeover(self) -> None:
        """A worker paused past WORKER_LOST_AFTER whose task was taken over meanwhile (called lost,
        or its unit of a split batch taken back) wrote for that job after it woke."""
        marks = self.ledger.lost_marks()
        for worker in self.workers.values():
            for paused, woke in worker.paused:
                taken = {
                    self.job_of[m.task].task_id
                    for m in marks
                    if m.task in self.job_of and m.owner == worker.name and paused <= m.at <= woke + 1
                }
                held = {
                    self.job_of[w.task].task_id
                    for w in self.ledger.writes
                    if w.owner == worker.name and paused - 2 <= w.at <= paused and w.task in self.job_of
                }
                taken_back = {
                    w.task
                    for w in self.ledger.writes
                    if w.kind == "batch" and w.key.endswith(":losses") and paused <= w.at <= woke + 1
                }
                taken |= held & taken_back
                late = self._before_next_execution(worker.name, paused, woke)
                for job_id in sorted(taken):
                    job = self.by_task[job_id]
                    mine = [w for w in late if self.job_of.get(w.task) is job]
                    if mine:
                        kinds = Counter(f"{w.kind} ({w.command})" for w in mine)
                        self.add(
                            job,
                            f"{worker.name}, paused {self.rel(paused)} to {self.rel(woke)} and taken over meanwhile, "
                            f"wrote {len(mine)} times for it after it woke (first {self.rel(mine[0].at)}): "
                            + ", ".join(f"{n} {kind}" for kind, n in kinds.most_common()),
                        )

    def _before_next_execution(self, worker: str, paused: float, woke: float) -> list[Write]:
        """The writes ``worker`` made after it woke and before it began executing a task anew (a
        worker runs one task at a time: what it wrote then came from the execution paused). An
        execution begins where it records its run (``live-progress:run:<id>``, field ``attempt``)
        or renews a heartbeat it did not hold at the pause, or holds with another token."""
        mine = [w for w in self.ledger.writes if w.owner == worker]
        tokens = {w.task: w.value for w in mine if w.kind == "heartbeat" and paused - 3 <= w.at <= paused}
        late = []
        for write in mine:
            # Stopped, it wrote nothing: whatever comes after the first half second (writes sent
            # just before SIGSTOP) came after SIGCONT, even before ``woke`` was noted.
            if write.at <= paused + 0.5:
                continue
            begins = (write.kind == "run" and write.field == "attempt") or (
                write.kind == "heartbeat" and tokens.get(write.task, write.value + "?") != write.value
            )
            if begins:
                break
            late.append(write)
        return late

    # Figures ---------------------------------------------------------------------------------------

    def statuses(self, job: Job, text: str) -> list[Event]:
        """The distinct progress states of the job whose description begins with ``text`` (one per
        takeover or handover, however many watchers saw it)."""
        found: dict[tuple[Any, ...], Event] = {}
        for event in job.all_events():
            root = event.data.get("root", {})
            if event.kind == "progress" and str(root.get("description", "")).startswith(text):
                found.setdefault((root.get("percent"), root.get("description")), event)
        return list(found.values())

    def recovery(self, fault: Fault) -> tuple[float | None, int]:
        """Seconds from the fault until every job it stalled moved again (None: none it could
        stall), and how many never did (a job that ended in error never did). Worker faults: the
        jobs the worker was executing. Web and Redis faults: the watchers whose connection the
        fault ended, until each read a newer state."""
        if fault.kind.endswith("-worker"):
            jobs = {self.job_of[task] for task in fault.tasks if task in self.job_of}
            jobs = {job for job in jobs if (job.finished_at() or float("inf")) > fault.at}
            times = [_advanced(job.all_events(), fault.at) if self.result_of(job) else None for job in jobs]
        else:
            window = (fault.until or fault.at) + 5
            times = []
            for job in self.jobs:
                if self.result_of(job) is None:
                    continue  # stalled by something else (its worker's death): counted there
                for watcher in job.watchers:
                    cut = [
                        c
                        for c in watcher.connections
                        if c.closed and fault.at - 0.5 <= c.closed <= window and c.end not in ("cut", "final")
                    ]
                    if cut:
                        times.append(_advanced(watcher.events(), fault.at))
        never = sum(t is None for t in times)
        done = [t for t in times if t is not None]
        return (max(done) if done else None), never

    def twice(self, durations: dict[str, dict[int, float]]) -> tuple[float, int]:
        """Audio seconds transcribed twice (an estimate, see the footnote), and over how many
        interrupted files that were carried on.

        For each worker fault, each unit of a split batch its worker held (claimed and not
        finished, from its Redis writes): it had decoded up to its last reported position and
        the rest of that 30-s window (half a window, when it had reported none); whoever carried
        the unit on started where the first segment published after the fault starts (where it
        stopped, if none came). What lies between was decoded twice.
        """
        total, units = 0.0, 0
        for fault in self.faults:
            if not fault.kind.endswith("-worker"):
                continue
            for job_id, index in self._held(fault.target, fault.at):
                job = self.by_task.get(job_id)
                if job is None or index >= len(job.files):
                    continue
                duration = durations[job_id][index]
                reached = self._reported(fault.target, job_id, index, fault.at)
                if reached > 0:
                    decoded = min(duration, WINDOW if reached < WINDOW else reached + WINDOW / 2)
                else:
                    decoded = min(duration, WINDOW) / 2
                restart = [
                    segment_key(e)[1]
                    for e in job.all_events()
                    if e.kind == "segment" and e.at > fault.at and segment_key(e)[0] == job.files[index]
                ]
                if self.result_of(job) is None:
                    continue  # not carried on: nothing was done twice, the job was lost instead
                carried_from = restart[0] if restart else reached
                saved = self._resume_point(job_id, index, fault.at)
                if saved is not None:
                    carried_from = min(carried_from, saved)
                total += max(0.0, decoded - carried_from)
                units += 1
        return total, units

    def _resume_point(self, job_id: str, index: int, at: float) -> float | None:
        """Where the unit's checkpoint said to go on from, as last written before ``at``
        (``live-progress:batch:<id>:partials``, its ``seconds``: the start of the model's window
        that the last published segment was in), None when none was written."""
        key = f"live-progress:batch:{job_id}:partials"
        point = None
        for write in self.ledger.writes:
            if write.at > at:
                break
            if write.key == key and write.field == str(index):
                found = _SECONDS.search(write.value)
                if found:
                    point = float(found.group(1))
        return point

    def _held(self, worker: str, at: float) -> list[tuple[str, int]]:
        claims: dict[tuple[str, int], float] = {}
        for write in self.ledger.writes:
            if write.at > at:
                break
            if write.kind != "batch" or not write.field.isdigit():
                continue
            unit = (write.task, int(write.field))
            if write.key.endswith(":claims") and write.command == "HSET" and write.owner == worker:
                claims[unit] = write.at
            elif write.key.endswith(":texts") and write.command == "HSET":
                claims.pop(unit, None)
        return list(claims)

    def _reported(self, worker: str, job_id: str, index: int, at: float) -> float:
        reached = 0.0
        key = f"live-progress:batch:{job_id}:seconds"
        for write in self.ledger.writes:
            if write.at > at:
                break
            if write.key == key and write.field == str(index) and write.owner == worker:
                try:
                    reached = float(write.value)
                except ValueError:
                    continue
        return reached


def _advanced(events: list[Event], at: float) -> float | None:
    """Seconds after ``at`` until ``events`` show the job's state further on than before it: a
    higher percent, or the result. (Not a segment: in a split batch a helper goes on publishing
    its file's while the batch's leader, which alone writes the percent, is gone.)"""
    before = [e for e in events if e.at <= at]
    percent = max((e.data["root"]["percent"] for e in before if e.kind == "progress"), default=-1)
    for event in sorted((e for e in events if e.at > at), key=lambda e: e.at):
        if (event.kind == "progress" and event.data["root"]["percent"] > percent) or event.kind == "result":
            return event.at - at
        if event.final:
            return None
    return None


def _diff(want: str, got: str) -> str:
    """Where the words differ (up to three places): ``word 97: 'caps,' -> 'caps'``."""
    a, b = want.split(), got.split()
    changes = [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]
    shown = [f"word {i1 + 1}: {_words(a[i1:i2])!r} -> {_words(b[j1:j2])!r}" for _, i1, i2, j1, j2 in changes[:3]]
    more = f" and {len(changes) - 3} more" if len(changes) > 3 else ""
    return f"({len(a)} words: {'; '.join(shown)}{more})"


def _words(words: list[str]) -> str:
    return (" ".join(words[:8]) + (" …" if len(words) > 8 else "")) or "(none)"

"""bench.chaos's table and picture: what was injected, what it cost, what was violated."""

from __future__ import annotations

import pickle
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench import plots
from bench.chaos_checks import LOST_TEXT, STOPPED_TEXT, Fault, Verdict, Violation
from bench.chaos_cluster import Worker
from bench.chaos_jobs import Job
from bench.chaos_monitor import Write

if TYPE_CHECKING:
    from bench.chaos_cluster import Cluster

LABELS = {
    "kill-worker": "SIGKILL worker",
    "term-worker": "SIGTERM worker",
    "stop-worker": "SIGSTOP worker",
    "kill-web": "SIGKILL web process",
    "restart-redis": "Redis restart",
}
COLOURS = {
    "kill-worker": "tab:red",
    "term-worker": "tab:orange",
    "stop-worker": "tab:purple",
    "kill-web": "tab:blue",
    "restart-redis": "tab:green",
}


@dataclass(frozen=True)
class Sample:
    at: float
    queued: int  # taken by the service, no progress seen yet
    running: int
    finished: int
    streams: int  # watchers' connections open
    workers: int  # healthy workers (alive, not paused, not stopping)


@dataclass(eq=False)
class Record:
    """What a run leaves for its verdict, table and picture (kept as run.pickle in its folder:
    ``scripts/bench chaos --report PICKLE`` reads it again)."""

    seed: int
    workers_started: int
    lost_after: float
    references: dict[tuple[str, tuple[bool, bool]], str]
    start: float = 0.0
    end: float = 0.0
    reference_seconds: float = 0.0
    jobs: list[Job] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)

    def verdict(self) -> Verdict:
        return Verdict(self.jobs, self.references, self.faults, self.workers, self.writes, self.lost_after, self.start)

    def save(self, path: Path) -> None:
        with path.open("wb") as file:
            pickle.dump(self, file)

    @staticmethod
    def load(path: Path) -> Record:
        with path.open("rb") as file:
            return pickle.load(file)  # noqa: S301 - a file this benchmark wrote


def take_sample(jobs: list[Job], cluster: Cluster) -> Sample:
    now = time.time()
    queued = running = finished = streams = 0
    for job in jobs:
        if job.accepted is None:
            continue
        if job.finished_at() is not None:
            finished += 1
        elif job.started_at() is not None:
            running += 1
        else:
            queued += 1
        streams += sum(1 for w in job.watchers if w.connections and w.connections[-1].open_at(now))
    return Sample(now, queued, running, finished, streams, len(cluster.healthy_workers()))


def _seconds(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.1f} / {max(values):.1f} s"


def report(run: Record, verdict: Verdict, violations: list[Violation]) -> list[str]:
    lines = [
        "",
        f"## bench.chaos: seed {run.seed}, {run.end - run.start:.0f} s of faults, {run.workers_started} workers "
        f"(SPLIT_BATCHES=2, WHISPER_CPU_THREADS=1), 2 web processes, WORKER_LOST_AFTER={run.lost_after:g}",
        "",
        "| fault | injected | on a job | fault to progress again, p50 / max | never progressed again |",
        "|---|---|---|---|---|",
    ]
    by_kind: dict[str, list] = {kind: [] for kind in LABELS}
    for fault in run.faults:
        by_kind[fault.kind].append(fault)
    for kind, faults in by_kind.items():
        recoveries = [verdict.recovery(fault) for fault in faults]
        times = [seconds for seconds, _ in recoveries if seconds is not None]
        never = sum(n for _, n in recoveries)
        on_job = sum(1 for f in faults if f.tasks) if kind.endswith("-worker") else "-"
        lines.append(f"| {LABELS[kind]} | {len(faults)} | {on_job} | {_seconds(times)} | {never} |")

    jobs = [job for job in run.jobs if job.accepted is not None]
    accurate = sum(job.spec.accurate for job in jobs)
    audio = sum(job.spec.seconds for job in jobs)
    watchers = [w for job in jobs for w in job.watchers]
    connections = [c for w in watchers for c in w.connections]
    resumed = sum(1 for c in connections if c.last_event_id)
    ends = Counter(c.end.split(":")[0] for c in connections)
    lost = {job.name: verdict.statuses(job, LOST_TEXT) for job in jobs}
    stopped = {job.name: verdict.statuses(job, STOPPED_TEXT) for job in jobs}
    marks = verdict.ledger.lost_marks()
    durations = {job.task_id: _durations(job) for job in jobs}
    twice, units = verdict.twice(durations)
    orphans = sum(job.post_ambiguous for job in run.jobs)
    lines += [
        "",
        "| figure | value |",
        "|---|---|",
        f"| jobs | {len(jobs)} ({accurate} accurate, {len(jobs) - accurate} fast), {audio:,.0f} s of audio; "
        f"{orphans} POSTs whose answer was lost |",
        f"| watchers | {len(watchers)}, over {len(connections)} connections: {resumed} resumed with Last-Event-ID "
        f"({ends['cut']} cut by the watcher, {ends['dropped'] + ends['eof']} dropped by the service, "
        f"{ends['reconnect']} ended with its reconnect error) |",
        f"| takeovers (`{LOST_TEXT}…` states, per job and attempt) | {sum(map(len, lost.values()))} in "
        f"{sum(1 for v in lost.values() if v)} jobs; {len(marks)} tasks called lost in Redis |",
        f"| handovers (`{STOPPED_TEXT}…`) | {sum(map(len, stopped.values()))} in "
        f"{sum(1 for v in stopped.values() if v)} jobs |",
        f"| audio transcribed twice¹ | {twice:.1f} s, over {units} files interrupted and carried on |",
        f"| violations | {len(violations)} |",
        "",
        "¹ Estimated from the Redis writes of each worker hit by a fault: for each file it held (claimed, "
        "not finished), it had decoded up to the last position it reported and the rest of that 30-s window "
        "(half a window when it had reported none); whoever carried the file on began where the file's "
        "checkpoint said (batch:<id>:partials, the window of its last published segment), or else where the "
        "first segment published after the fault begins. The difference is counted; a job that ended in error "
        "counts none (it was not carried on). A paused worker's work after it woke is not counted.",
    ]
    if violations:
        lines += ["", f"Violations ({len(violations)}):"]
        lines += [f"- {v.job}: {v.what}" for v in violations]
    lines += ["", "Faults:"]
    for fault in run.faults:
        recovery, never = verdict.recovery(fault)
        if recovery is not None:
            then = f"progress again after {recovery:.1f} s" + (f" ({never} job(s) never)" if never else "")
        else:
            then = "never progressed again" if never else "nothing it stalled"
        tasks = f"; executing {', '.join(_task_names(verdict, fault.tasks))}" if fault.tasks else ""
        lines.append(
            f"- {verdict.rel(fault.at)} {LABELS[fault.kind]}: {fault.target}{tasks}"
            f"{'; ' + fault.note if fault.note else ''}; {then}"
        )
    return lines


def _task_names(verdict: Verdict, tasks: set[str]) -> list[str]:
    names = []
    for task in sorted(tasks):
        job = verdict.job_of.get(task)
        if job is None:
            names.append(task[:8])
        else:
            names.append(job.name if task == job.task_id else f"{job.name} (helper)")
    return names


def _durations(job: Job) -> dict[int, float]:
    seconds = {clip.name: clip.seconds for clip in job.spec.clips}
    return {n: seconds[Path(path).name.split("-", 1)[1]] for n, path in enumerate(job.files)}


def draw(run: Record, verdict: Verdict, path: Path) -> None:
    start = run.start
    samples = [s for s in run.samples if s.at >= start - 1]
    t = [s.at - start for s in samples]
    figure = plots.figure(12, 6.5)
    jobs_axis, streams_axis = figure.subplots(2, 1, sharex=True)
    jobs_axis.step(t, [s.running for s in samples], where="post", label="running", color="black")
    jobs_axis.step(t, [s.queued for s in samples], where="post", label="queued", color="grey", linestyle="--")
    jobs_axis.step(t, [s.workers for s in samples], where="post", label="healthy workers", color="tab:olive")
    finished = jobs_axis.twinx()
    finished.step(t, [s.finished for s in samples], where="post", color="tab:cyan", label="finished (right)")
    finished.set_ylabel("finished jobs")
    jobs_axis.set_ylabel("jobs, workers")
    streams_axis.step(t, [s.streams for s in samples], where="post", color="black")
    streams_axis.set_ylabel("open streams")
    streams_axis.set_xlabel("seconds into the run")
    seen = set()
    for fault in run.faults:
        x = fault.at - start
        label = LABELS[fault.kind] if fault.kind not in seen else None
        seen.add(fault.kind)
        for axis in (jobs_axis, streams_axis):
            if fault.until and fault.kind in ("stop-worker", "restart-redis"):
                axis.axvspan(x, fault.until - start, color=COLOURS[fault.kind], alpha=0.15)
            axis.axvline(x, color=COLOURS[fault.kind], linewidth=1.2, label=label if axis is jobs_axis else None)
    marks = [mark.at - start for mark in verdict.ledger.lost_marks() if mark.task in verdict.job_of]
    if marks:
        jobs_axis.plot(marks, [0] * len(marks), "x", color="tab:red", markersize=9, label="a task called lost")
    handles, labels = jobs_axis.get_legend_handles_labels()
    more, more_labels = finished.get_legend_handles_labels()
    figure.legend(handles + more, labels + more_labels, loc="lower center", fontsize=8, ncol=6, frameon=False)
    jobs_axis.set_title(f"bench.chaos, seed {run.seed}: jobs and streams under faults")
    plots.save(figure, path, bottom=0.06)

"""Chaos: jobs flow through the whole service while its processes are killed, stopped, paused
and restarted at random; every job must still end in its result, each watcher reading it once.

    scripts/bench chaos [--minutes 30] [--seed S] [--quick] [--workers 3] [--plot docs/chaos.png]

Starts its own redis-server with an append-only file (bench/chaos_cluster.py), ``--workers``
Celery workers (SPLIT_BATCHES=2, one CTranslate2 thread each, WORKER_LOST_AFTER=4) and the web
as two uvicorn processes under uvicorn's supervisor, which starts a process again when one
dies. First an undisturbed reference run: each clip once per set of decoding options that
accurate jobs use. Then, for ``--minutes``, a steady flow of jobs (fresh folders of the
committed clips, mixed parameters; bench/chaos_jobs.py), each followed over SSE by one to three
watchers that drop their connection now and then and resume with Last-Event-ID; and, at seeded
random moments, faults: SIGKILL of a worker (a new one is started), SIGTERM of a worker (a new
one is started), SIGSTOP of a worker for twice WORKER_LOST_AFTER then SIGCONT, SIGKILL of a web
process, a restart of Redis on the same port and data. Redis's MONITOR names the process behind
every write (bench/chaos_monitor.py). At the end every job is checked (bench/chaos_checks.py),
a table printed, the run drawn into ``--plot``; the exit status is 1 when anything was violated.

``--quick``: 60 s of jobs and seven faults (SIGKILL of a worker twice, SIGSTOP, SIGTERM, SIGKILL
of a web process twice, a Redis restart), for the test. The seed is printed: ``--seed`` replays
the same jobs, watchers and fault times (which worker a fault hits depends on what runs then).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import ROOT, plots
from bench.chaos_checks import Fault
from bench.chaos_cluster import Cluster, Worker
from bench.chaos_jobs import (
    NEW_CONNECTIONS,
    Job,
    JobMaker,
    JobSpec,
    Watcher,
    clips,
    reference_spec,
    submit,
    wait_until_done,
    watch,
)
from bench.chaos_monitor import Ledger, Owners, RedisMonitor
from bench.chaos_report import Record, draw, report, take_sample
from bench.measure import connections_by_process
from bench.report import machine
from live_progress.plugins.audio.worker.transcription import find_audio_files

KINDS = ("kill-worker", "term-worker", "stop-worker", "kill-web", "restart-redis")
QUICK_FAULTS = ["kill-worker", "stop-worker", "kill-web", "kill-worker", "term-worker", "restart-redis", "kill-web"]
WEIGHTS = {"kill-worker": 3, "term-worker": 2, "stop-worker": 2, "kill-web": 2, "restart-redis": 1}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long jobs flow and faults come")
    parser.add_argument("--seed", type=int, help="replays a run's jobs, watchers and fault times (default: new)")
    parser.add_argument("--quick", action="store_true", help="60 s and seven faults of every kind (the test)")
    parser.add_argument("--workers", type=int, default=3, help="Celery worker processes (2 or 3 on 2 cores)")
    parser.add_argument("--lost-after", type=float, default=4.0, help="WORKER_LOST_AFTER, seconds")
    parser.add_argument("--fault-every", type=float, default=20.0, help="mean seconds between faults")
    parser.add_argument("--open-jobs", type=int, help="jobs kept unfinished at once (default 3, --quick 3)")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "chaos.png", help="the PNG drawn of the run")
    parser.add_argument("--report", type=Path, help="a run's run.pickle: check it and report it again, run nothing")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1_000_000)
    if args.quick:
        args.minutes = 1.0
    if args.open_jobs is None:
        args.open_jobs = 3
    return args


def fault_plan(rng: random.Random, seconds: float, quick: bool, every: float) -> list[tuple[float, str]]:
    """When each fault comes (seconds into the run) and its kind."""
    if quick:
        kinds = list(QUICK_FAULTS)
        rng.shuffle(kinds)
        first, last = 6.0, seconds - 12.0
        step = (last - first) / (len(kinds) - 1)
        return [(first + n * step + rng.uniform(-1.0, 1.0), kind) for n, kind in enumerate(kinds)]
    plan, at = [], 10.0
    while (at := at + rng.expovariate(1 / every)) < seconds - 10:
        plan.append((at, rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]))
    return plan


@dataclass
class Run:
    """The run going on: its processes, and what it records."""

    args: argparse.Namespace
    cluster: Cluster
    monitor: RedisMonitor
    record: Record

    @property
    def jobs(self) -> list[Job]:
        return self.record.jobs

    @property
    def faults(self) -> list[Fault]:
        return self.record.faults

    @property
    def start(self) -> float:
        return self.record.start


class Chaos:
    def __init__(self, run: Run, out: Callable[[str], None]) -> None:
        self.run = run
        self.out = out
        self.cluster = run.cluster
        seed = run.args.seed
        self.rng_faults = random.Random(seed * 10 + 1)
        self.rng_targets = random.Random(seed * 10 + 2)
        self.rng_watchers = random.Random(seed * 10 + 3)
        self.pool = clips()
        # Accurate jobs skip silence (vad) never: a file resumed mid-way is decoded without VAD
        # (faster-whisper ignores it with clip_timestamps), so it could not equal its reference.
        variants = [(False, False)] if run.args.quick else [(False, False), (False, True)]
        self.variants = variants
        self.maker = JobMaker(random.Random(seed * 10 + 4), self.pool, variants)
        self.tasks: set[asyncio.Task[None]] = set()
        self.replacements: list[asyncio.Task[object]] = []
        self.give_up = float("inf")

    def spawn(self, coroutine) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        return task

    # The reference run ---------------------------------------------------------------------------

    async def reference(self) -> dict[tuple[str, tuple[bool, bool]], str]:
        started = time.time()
        jobs = []
        async with httpx.AsyncClient(base_url=self.cluster.base_url, timeout=30, limits=NEW_CONNECTIONS) as client:
            for n, variant in enumerate(self.variants):
                spec = reference_spec(self.pool, variant, 900 + n)
                job = self._job(spec, f"reference-{n}")
                if not await submit(client, job, time.time() + 60):
                    raise RuntimeError("the service did not take the reference job")
                watcher = Watcher(1, cut_share=0.0)
                job.watchers.append(watcher)
                jobs.append(job)
                self.spawn(watch(self.cluster.base_url, job, watcher, random.Random(0), time.time() + 600))
            for job in jobs:
                await wait_until_done(job, time.time() + 600)
        references: dict[tuple[str, tuple[bool, bool]], str] = {}
        for job in jobs:
            finals = job.watchers[0].finals()
            if not finals or finals[0].kind != "result":
                raise RuntimeError(f"the reference run failed: {finals[0].data if finals else 'no final event'}")
            texts = {text["title"]: text for text in finals[0].data["root"]["texts"]}
            for relative, clip in zip(job.spec.relative_paths(), job.spec.clips, strict=True):
                text = texts[str(job.folder / relative)]
                if text.get("subtitle") == "error":
                    raise RuntimeError(f"the reference run failed on {clip.name}: {text['value']}")
                references[(clip.name, job.spec.variant)] = text["value"]
        self.run.record.reference_seconds = time.time() - started
        self.out(
            f"Reference run: {len(jobs)} job(s) of the {len(self.pool)} clips "
            f"({sum(c.seconds for c in self.pool):.0f} s of audio each), {self.run.record.reference_seconds:.1f} s."
        )
        return references

    def _job(self, spec: JobSpec, name: str) -> Job:
        folder = spec.make_folder(self.cluster.audio, name)
        job = Job(spec, folder)
        job.files = [str(path) for path in find_audio_files(folder)]
        return job

    # The chaos run ---------------------------------------------------------------------------------

    async def chaos(self) -> None:
        args, run = self.run.args, self.run
        seconds = args.minutes * 60
        run.record.start = time.time()
        end = run.start + seconds
        self.give_up = end + (60 if args.quick else 300)
        plan = fault_plan(self.rng_faults, seconds, args.quick, args.fault_every)
        self.out(f"Chaos for {seconds:.0f} s: {len(plan)} faults planned, at most {args.open_jobs} jobs open at once.")
        sampler = self.spawn(self.sample(end))
        submitter = self.spawn(self.submit_jobs(end))
        await self.inject(plan)
        await submitter
        # Faults in flight (a paused worker to wake, workers to start) finish before the drain.
        for task in list(self.replacements):
            with contextlib.suppress(Exception):
                await task
        run.record.end = time.time()
        self.out(f"Faults done at +{run.record.end - run.start:.0f} s; waiting for the jobs still open.")
        for job in run.jobs:
            await wait_until_done(job, self.give_up)
        await asyncio.sleep(1.0)  # the last writes reach the MONITOR reader
        sampler.cancel()
        async with httpx.AsyncClient(base_url=self.cluster.base_url, timeout=30, limits=NEW_CONNECTIONS) as client:
            for job in run.jobs:
                if job.result_url:
                    with contextlib.suppress(httpx.HTTPError, ValueError):
                        job.polled = (await client.get(job.result_url)).json()

    async def submit_jobs(self, end: float) -> None:
        run = self.run
        rng = random.Random(run.args.seed * 10 + 5)
        async with httpx.AsyncClient(base_url=self.cluster.base_url, timeout=15, limits=NEW_CONNECTIONS) as client:
            while time.time() < end:
                open_jobs = [job for job in run.jobs if job.accepted is not None and job.finished_at() is None]
                if len(open_jobs) < run.args.open_jobs:
                    spec = self.maker.next()
                    job = self._job(spec, f"job-{spec.number:03d}")
                    run.jobs.append(job)
                    if await submit(client, job, end + 30):
                        for n in range(rng.choice((1, 1, 2, 2, 3))):
                            watcher = Watcher(n + 1)
                            job.watchers.append(watcher)
                            self.spawn(self.follow(job, watcher, delay=0 if n == 0 else rng.uniform(0, 3)))
                await asyncio.sleep(rng.uniform(0.3, 1.5))

    async def follow(self, job: Job, watcher: Watcher, delay: float) -> None:
        await asyncio.sleep(delay)
        rng = random.Random(self.rng_watchers.random())
        await watch(self.cluster.base_url, job, watcher, rng, self.give_up)

    async def sample(self, end: float) -> None:
        while True:
            self.run.record.samples.append(take_sample(self.run.jobs, self.cluster))
            await asyncio.sleep(0.5)

    # Faults -----------------------------------------------------------------------------------------

    async def inject(self, plan: list[tuple[float, str]]) -> None:
        for offset, kind in plan:
            await asyncio.sleep(max(0.0, self.run.start + offset - time.time()))
            try:
                await getattr(self, kind.replace("-", "_"))()
            except Exception as exc:  # noqa: BLE001 - a fault that could not be made is reported, not fatal
                self.out(f"  {kind} at +{time.time() - self.run.start:.1f} s failed: {exc!r}")

    def _record(self, kind: str, target: str, tasks: set[str] = frozenset(), note: str = "") -> Fault:
        fault = Fault(kind, time.time(), target, set(tasks), note=note)
        self.run.faults.append(fault)
        self.out(f"  +{fault.at - self.run.start:5.1f} s  {kind:<13} {target}{' (' + note + ')' if note else ''}")
        return fault

    async def _pick_worker(self, patience: float = 15.0) -> tuple[Worker, set[str], str]:
        """A worker a fault may hit, preferring one that leads a job under way (mid-file), while
        at least two are healthy (one is left to carry on): waits up to ``patience`` for a leader,
        then takes a busy worker or any. A job that lost two workers already is left alone: a
        third loss fails it by design (MAX_TASK_ATTEMPTS), which would say nothing."""
        deadline = time.time() + patience
        while True:
            healthy = self.cluster.healthy_workers()
            if len(healthy) >= 2:
                running = Ledger(self.run.monitor.writes).running(time.time(), self.cluster.lost_after / 2 + 0.5)
                jobs = {job.task_id: job for job in self.run.jobs if job.task_id}
                spent = {task for task, job in jobs.items() if self._hits(job) >= 2}
                allowed = [w for w in healthy if not running.get(w.name, set()) & spent]
                leaders = [w for w in allowed if any(t in jobs and _midway(jobs[t]) for t in running.get(w.name, ()))]
                if leaders:
                    worker = self.rng_targets.choice(leaders)
                    return worker, running.get(worker.name, set()), "leads a job mid-way"
                if time.time() > deadline and allowed:
                    busy = [w for w in allowed if running.get(w.name)]
                    worker = self.rng_targets.choice(busy or allowed)
                    return worker, running.get(worker.name, set()), "busy" if busy else "idle"
            if time.time() > deadline + 30:
                raise RuntimeError(f"no worker to hit for {patience + 30:g} s ({len(healthy)} healthy)")
            await asyncio.sleep(0.25)

    def _hits(self, job: Job) -> int:
        return sum(1 for f in self.run.faults if f.kind in ("kill-worker", "stop-worker") and job.task_id in f.tasks)

    async def kill_worker(self) -> None:
        worker, tasks, note = await self._pick_worker()
        self._record("kill-worker", worker.name, tasks, note)
        await asyncio.to_thread(self.cluster.kill_worker, worker)
        self.replacements.append(asyncio.ensure_future(asyncio.to_thread(self.cluster.add_worker)))

    async def term_worker(self) -> None:
        worker, tasks, note = await self._pick_worker()
        self._record("term-worker", worker.name, tasks, note)
        self.cluster.terminate_worker(worker)
        self.replacements.append(asyncio.ensure_future(asyncio.to_thread(self.cluster.add_worker)))

    async def stop_worker(self) -> None:
        worker, tasks, note = await self._pick_worker()
        pause = 2 * self.cluster.lost_after
        fault = self._record("stop-worker", worker.name, tasks, f"{note}; SIGCONT after {pause:g} s")
        self.cluster.pause_worker(worker)

        async def wake() -> None:
            await asyncio.sleep(pause)
            self.cluster.resume_worker(worker)
            fault.until = time.time()

        self.replacements.append(asyncio.ensure_future(wake()))

    async def kill_web(self) -> None:
        if self.cluster.web_restarts and self.cluster.web_restarts[-1][1] is None:
            await asyncio.sleep(5)  # the last one killed is not serving again yet
        children = self.cluster.web_children()
        if not children:
            raise RuntimeError("the web's supervisor has no process to kill")
        pid = self.rng_targets.choice(children)
        streams = _streams_on(pid, self.cluster)
        fault = self._record("kill-web", f"web process {pid}", note=f"{streams} connections on it")

        async def served() -> None:
            serving = await asyncio.to_thread(self.cluster.kill_web_process, pid)
            fault.until = serving
            fault.note += f"; another serving after {serving - fault.at:.1f} s" if serving else "; none in 60 s"

        self.replacements.append(asyncio.ensure_future(served()))

    async def restart_redis(self) -> None:
        fault = self._record("restart-redis", "redis")
        down = await asyncio.to_thread(self.cluster.restart_redis)
        fault.until = time.time()
        fault.note = f"answering again after {down:.1f} s"


def _midway(job: Job) -> bool:
    percents = [e.data["root"]["percent"] for e in job.all_events()[-50:] if e.kind == "progress"]
    return bool(percents) and 3 <= percents[-1] <= 85


def _streams_on(pid: int, cluster: Cluster) -> int:
    """Client connections the web process ``pid`` holds (streams, mostly)."""
    assert cluster.web is not None
    port = int(cluster.base_url.rsplit(":", 1)[1])
    return connections_by_process(cluster.web.popen.pid, port).get(pid, 0)


def code_version() -> str:
    """The commit under test, and whether the service's code had changes not committed yet."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--", "live_progress", "plugins")
    return commit + (" with uncommitted changes in live_progress/ or plugins/" if changed else "")


async def run_chaos(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    root = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    out(
        f"`scripts/bench chaos {' '.join(sys.argv[1:])}` seed {args.seed} (replay: --seed {args.seed}), commit "
        f"{code_version()}, {time.strftime('%Y-%m-%d %H:%M %Z')}, {machine()}, Python {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.2f}."
    )
    out(f"Logs, Redis's data and the job folders: {root}")
    cluster = Cluster(root, args.workers, args.lost_after)
    monitor: RedisMonitor | None = None
    try:
        started = time.time()
        await asyncio.to_thread(cluster.start)
        owners = Owners(cluster.redis.port, lambda: list(cluster.owners()))
        cluster.on_change.append(owners.forget)
        monitor = RedisMonitor(cluster.redis.port, owners).start()
        out(
            f"Redis (AOF) on port {cluster.redis.port}, {args.workers} workers, the web ({cluster.web_processes} "
            f"processes) at {cluster.base_url}: up in {time.time() - started:.1f} s."
        )
        run = Run(args, cluster, monitor, Record(args.seed, args.workers, args.lost_after, {}))
        chaos = Chaos(run, out)
        run.record.references = await chaos.reference()
        await chaos.chaos()
        for task in chaos.tasks:
            task.cancel()
        monitor.stop()
        run.record.writes = monitor.writes
        run.record.workers = [worker.record() for worker in cluster.workers]
        run.record.save(root / "run.pickle")
        return verdict_and_report(run.record, args.plot, out, root)
    finally:
        if monitor is not None:
            monitor.stop()
        cluster.close()


def verdict_and_report(record: Record, plot: Path, out: Callable[[str], None], root: Path) -> int:
    """Checks the run, prints the table and the violations, draws ``plot``; 1 if anything was violated."""
    verdict = record.verdict()
    violations = verdict.check()
    for line in report(record, verdict, violations):
        out(line)
    out("")
    plots.draw_and_say(lambda: draw(record, verdict, plot), plot, out)
    out(f"Logs: {root / 'logs'}; the run's record: {root / 'run.pickle'} (--report reads it again)")
    return 1 if violations else 0


def main() -> None:
    args = parse_args()
    if args.report:
        record = Record.load(args.report)
        sys.exit(verdict_and_report(record, args.plot, print, args.report.parent))

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    try:
        status = asyncio.run(run_chaos(args, lambda line: print(line, flush=True)))
    except KeyboardInterrupt:
        print("Interrupted: every process it started is stopped.", file=sys.stderr)
        status = 130
    sys.exit(status)


if __name__ == "__main__":
    main()

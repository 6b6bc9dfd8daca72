"""scripts/bench fuzz: the whole API fuzzed from its own /openapi.json against a running service
(uvicorn, Redis, a Celery worker), while a well-behaved client follows real jobs over SSE and
/healthz is polled. Passes when no fuzzed request got a 5xx or failed a check, the followed
streams missed nothing (every segment once, then the result) and /healthz stayed ok.

    scripts/bench fuzz --minutes 30 [--seed S]     rounds until the time is up
    python -m bench.fuzz --examples 8              one round (what the tests run)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.fuzz_api import FinishedJobs, Tally, fuzz, operation_labels
from bench.fuzz_client import Followed, Health, follow_jobs, job_root, watch_health
from live_progress.launch.processes import start_web, start_worker
from live_progress.launch.redis_server import RedisServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, help="fuzz in rounds until this much time has passed")
    parser.add_argument("--examples", type=int, default=25, help="examples per operation and mode in a round")
    parser.add_argument("--seed", type=int, help="the first round's seed (printed; the default is random)")
    parser.add_argument("--logs", type=Path, help="where the processes log (default: a temporary folder)")
    return parser.parse_args(argv)


@contextlib.contextmanager
def service(root: Path, logs: Path) -> Iterator[str]:
    """A redis-server, a worker and a web process, as the Procfile runs them; the web's base URL."""
    with RedisServer() as redis:
        env = {
            **os.environ,
            "REDIS_URL": redis.url,
            "ALLOWED_ROOTS": str(root),
            "TRANSCRIPTS_DIR": str(root / "transcripts"),
            "PYTHONUNBUFFERED": "1",
            "WORKER_METRICS_PORT": "0",
        }
        worker = start_worker(env, logs)
        try:
            web, base_url = start_web(env, logs)
            try:
                yield base_url
            finally:
                web.stop()
        finally:
            worker.stop()


async def run(base_url: str, root: Path, args: argparse.Namespace, first_seed: int) -> tuple[Tally, Followed, Health]:
    tally, followed, health, finished = Tally(), Followed(), Health(), FinishedJobs()
    fuzzing, done = asyncio.Event(), asyncio.Event()
    fuzzing.set()
    until = None if args.minutes is None else time.monotonic() + args.minutes * 60
    watcher = asyncio.create_task(watch_health(base_url, done, health))
    follower = asyncio.create_task(follow_jobs(base_url, root, fuzzing, followed, finished))
    try:
        await asyncio.to_thread(fuzz, base_url, args.examples, first_seed, until, finished, tally)
        fuzzing.clear()
        # The job being followed is followed to its end (and at least one of each plugin's).
        await follower
    finally:
        done.set()
        follower.cancel()
        await asyncio.gather(watcher, follower, return_exceptions=True)
    return tally, followed, health


def report(tally: Tally, followed: Followed, health: Health, first_seed: int, out: Callable[[str], None]) -> int:
    """The closing table and every violation; the exit status (0: none)."""
    problems = followed.problems + health.problems
    out("")
    out(f"| seed | {first_seed} |")
    out("| --- | --- |")
    out(f"| rounds | {tally.rounds} |")
    out(f"| examples | {tally.examples} |")
    out(f"| requests | {tally.requests} |")
    for status, count in sorted(tally.statuses.items()):
        out(f"| status {status} | {count} |")
    out(f"| 5xx | {tally.server_errors} |")
    out(f"| violations | {len(tally.violations)} |")
    out(f"| followed jobs | {followed.jobs} ({followed.segments} segments, {followed.reconnects} reconnects) |")
    out(f"| healthz checks | {health.checks} |")
    out(f"| client problems | {len(problems)} |")
    for line in tally.violations[:30] + problems[:30]:
        out(f"- {line}")
    return 0 if not tally.violations and not problems and followed.jobs else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A SIGTERM (a test's timeout) stops what the run started, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    first_seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"bench.fuzz: seed {first_seed} (replay with --seed {first_seed})", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as tmp:
        root = job_root(Path(tmp) / "root")
        logs = args.logs or Path(tmp) / "logs"
        with service(root, logs) as base_url:
            labels = operation_labels(base_url)
            print(
                f"bench.fuzz: {len(labels)} operations, {args.examples} examples each per mode and round:", flush=True
            )
            for label in labels:
                print(f"  {label}", flush=True)
            tally, followed, health = asyncio.run(run(base_url, root, args, first_seed))
        return report(tally, followed, health, first_seed, print)


if __name__ == "__main__":
    sys.exit(main())

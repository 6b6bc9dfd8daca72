"""A batch's files shared out among worker processes through Redis.

The task that took the batch (its leader) lists the files; it and its helper tasks claim
them one at a time, report seconds done, and store each transcript. Only the leader writes
the batch's state; the others only write here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from redis import Redis

from contract import children_key, heartbeat_key
from worker.checkpoint import Partial, Transcript

logger = logging.getLogger(__name__)

# Claims the next file, atomically with recording who has it (a claimer that died between
# the two would lose the file), and only while the batch runs: a batch that was cancelled
# or has lost its leader hands out nothing more.
# KEYS: todo, claims, the batch's Celery state, its heartbeat. ARGV: the claimer's task id.
_CLAIM = """
if redis.call('EXISTS', KEYS[4]) == 0 then return false end
local stored = redis.call('GET', KEYS[3])
if stored then
  local ok, meta = pcall(cjson.decode, stored)
  if ok and (meta.status == 'SUCCESS' or meta.status == 'FAILURE' or meta.status == 'REVOKED') then
    return false
  end
end
local index = redis.call('LPOP', KEYS[1])
if index then redis.call('HSET', KEYS[2], index, ARGV[1]) end
return index
"""


@dataclass(frozen=True, slots=True)
class Snapshot:
    seconds: dict[int, float]  # seconds reached into each file being transcribed
    done: set[int]
    claimed: dict[int, str]  # file -> the task that has it

    @property
    def running(self) -> set[int]:
        return self.claimed.keys() - self.done


class SharedBatch:
    def __init__(self, redis: Redis, batch_id: str, state_key: bytes, ttl: int) -> None:
        self.id = batch_id
        self._redis = redis
        self._state_key = state_key
        self._ttl = ttl
        prefix = f"live-progress:batch:{batch_id}:"
        self._files, self._todo, self._claims = prefix + "files", prefix + "todo", prefix + "claims"
        self._seconds, self._texts, self._losses = prefix + "seconds", prefix + "texts", prefix + "losses"
        self._partials = prefix + "partials"  # files given back mid-way by a stopping worker
        self._claim = redis.register_script(_CLAIM)

    @property
    def _scratch(self) -> list[str]:
        return [self._files, self._todo, self._claims, self._seconds, self._texts, self._losses, self._partials]

    def plan(self, paths: Sequence[Path]) -> None:
        """List the files to claim."""
        with self._redis.pipeline() as pipe:
            pipe.delete(*self._scratch)
            if paths:
                pipe.hset(self._files, mapping={index: str(path) for index, path in enumerate(paths)})
                pipe.rpush(self._todo, *range(len(paths)))
            for key in self._scratch:
                pipe.expire(key, self._ttl)
            pipe.execute()

    def planned(self) -> bool:
        """Whether the files are listed already (by a leader that handed the batch on)."""
        return bool(self._redis.exists(self._files))

    def add_helpers(self, helpers: Sequence[str]) -> None:
        """List helper tasks (before they are sent, so a cancel finds them)."""
        if helpers:
            with self._redis.pipeline() as pipe:
                pipe.sadd(children_key(self.id), *helpers)
                pipe.expire(children_key(self.id), self._ttl)
                pipe.execute()

    def release(self, index: int, begun: Partial) -> None:
        """Give a claimed file back, first in line, with how far it got (its claimer is stopping)."""
        with self._redis.pipeline() as pipe:
            pipe.hset(self._partials, str(index), json.dumps(begun.to_dict()))
            pipe.hdel(self._claims, str(index))
            pipe.lpush(self._todo, index)
            pipe.execute()

    def claim(self, claimer: str) -> tuple[int, Path, Partial | None] | None:
        """The next file for ``claimer`` to transcribe, with how far a stopped worker got in it,
        or None when there is none (any more)."""
        keys: list[str | bytes] = [self._todo, self._claims, self._state_key, heartbeat_key(self.id)]
        index = self._claim(keys=keys, args=[claimer])
        if index is None:
            return None
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(self._files, index)
            pipe.hget(self._partials, index)
            path, partial = pipe.execute()
        if path is None:
            return None
        begun = Partial.from_dict(json.loads(partial)) if partial is not None else None
        return int(index), Path(_text(path)), begun

    def report_seconds(self, index: int, seconds: float) -> None:
        self._redis.hset(self._seconds, str(index), repr(seconds))

    def finish(self, index: int, transcript: Transcript) -> None:
        self._redis.hset(self._texts, str(index), json.dumps(transcript.to_dict()))

    def finished(self) -> bool:
        with self._redis.pipeline() as pipe:
            pipe.hlen(self._texts)
            pipe.hlen(self._files)
            done, total = pipe.execute()
        return bool(done == total)

    def snapshot(self) -> Snapshot:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._seconds)
            pipe.hkeys(self._texts)
            pipe.hgetall(self._claims)
            seconds, done, claims = pipe.execute()
        return Snapshot(
            seconds={int(k): float(v) for k, v in seconds.items()},
            done={int(k) for k in done},
            claimed={int(k): _text(v) for k, v in claims.items()},
        )

    def take_back_lost(self, attempts: int) -> int:
        """Files whose claimer stopped beating (its worker died) go back to be claimed again;
        one that lost ``attempts`` claimers is finished as an error instead. Returns how many."""
        snapshot = self.snapshot()
        running = sorted((index, snapshot.claimed[index]) for index in snapshot.running)
        if not running:
            return 0
        beating = self._redis.mget([heartbeat_key(claimer) for _, claimer in running])
        lost = [index for (index, _), beat in zip(running, beating, strict=True) if beat is None]
        for index in lost:
            with self._redis.pipeline() as pipe:
                pipe.hdel(self._claims, str(index))
                pipe.hincrby(self._losses, str(index), 1)
                pipe.hget(self._files, index)
                _, losses, stored = pipe.execute()
            path = Path(_text(stored))
            if losses < attempts:
                logger.warning("Taking back %s of batch %s: its worker was lost", path.name, self.id)
                self._redis.rpush(self._todo, index)
            else:
                logger.warning("Giving up on %s of batch %s: %d workers were lost on it", path.name, self.id, losses)
                self.finish(index, Transcript(path, error=f"Could not transcribe {path.name}: worker lost"))
        return len(lost)

    def transcripts(self, paths: Sequence[Path]) -> list[Transcript]:
        stored = {int(k): json.loads(v) for k, v in self._redis.hgetall(self._texts).items()}
        return [Transcript.from_dict(path, stored[i]) for i, path in enumerate(paths)]

    def clean_up(self) -> None:
        self._redis.delete(*self._scratch)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

"""A batch's files shared out among worker processes through Redis.

The task that took the batch (its leader) lists its units (whole files, and pieces of long
files: live_progress/plugins/audio/worker/pieces.py); it and its helper tasks claim them one at a time, report seconds
done, and store each transcript. Only the leader writes the batch's state; the others only
write here.

Live segments of a whole file are published as they are decoded. Those of a piece wait in a
list of its own until every earlier piece of the file is published, so a client reads a
file's segments in order and each once: the piece the file has reached is published as it
is decoded, and a piece done ahead of it all at once when it is reached (``_PUBLISH_IN_ORDER``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from redis import Redis

from live_progress import Job
from live_progress.plugins.audio.worker.checkpoint import Partial, Transcript
from live_progress.plugins.audio.worker.pieces import Unit, merge
from live_progress.plugins.audio.worker.segments import SegmentLog
from live_progress.plugins.audio.worker.transcription import Segment

logger = logging.getLogger(__name__)

# Claims the next file, atomically with recording who has it (a claimer that died between
# the two would lose the file), and only while the batch runs: a batch that was cancelled
# or has lost its leader hands out nothing more.
# KEYS: todo, claims, the batch's Celery state, its heartbeat. ARGV: the claimer's task id,
# the keys' ttl.
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
if index then
  redis.call('HSET', KEYS[2], index, ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return index
"""

# Holds a segment of a piece (if any) and marks the piece done (if so), then publishes, in
# order, what the file's pieces hold from the first not wholly published on, up to the
# first piece not done: one script, so two participants cannot publish the same segment,
# nor one piece's ahead of an earlier one's. The publishing is SegmentLog's _APPEND.
# KEYS: the segments' stream, the batch's order hash (next:<first piece> -> the piece to
# publish from; sent:<piece> -> how many of its held segments are published; done:<piece>).
# ARGV: held lists' prefix, the file's first and last piece, this piece, the segment's JSON
# or '', '1' if this piece is done, the keys' ttl, the stream's cap.
_PUBLISH_IN_ORDER = """
local prefix, first, last, piece = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if ARGV[5] ~= '' then
  redis.call('RPUSH', prefix .. piece, ARGV[5])
  redis.call('EXPIRE', prefix .. piece, ARGV[7])
end
if ARGV[6] == '1' then redis.call('HSET', KEYS[2], 'done:' .. piece, 1) end
local at = tonumber(redis.call('HGET', KEYS[2], 'next:' .. first) or first)
while at <= last do
  local sent = tonumber(redis.call('HGET', KEYS[2], 'sent:' .. at) or 0)
  local held = redis.call('LRANGE', prefix .. at, sent, -1)
  for _, root in ipairs(held) do
    local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[8], '*', 'root', root)
    redis.call('PUBLISH', KEYS[1], id .. ' ' .. root)
  end
  if #held > 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[7])
    redis.call('HSET', KEYS[2], 'sent:' .. at, sent + #held)
  end
  if redis.call('HEXISTS', KEYS[2], 'done:' .. at) == 0 then break end
  redis.call('DEL', prefix .. at)
  at = at + 1
  redis.call('HSET', KEYS[2], 'next:' .. first, at)
end
redis.call('EXPIRE', KEYS[2], ARGV[7])
"""


@dataclass(frozen=True, slots=True)
class Snapshot:
    seconds: dict[int, float]  # seconds reached into each unit being transcribed
    done: set[int]
    claimed: dict[int, str]  # unit -> the task that has it

    @property
    def running(self) -> set[int]:
        return self.claimed.keys() - self.done


class SharedBatch:
    """``log``: where live segments go (None: nowhere)."""

    def __init__(self, redis: Redis, batch_id: str, state_key: bytes, ttl: int, log: SegmentLog | None = None) -> None:
        self.id = batch_id
        self._redis = redis
        self._state_key = state_key
        self._ttl = ttl
        self._log = log
        prefix = f"live-progress:batch:{batch_id}:"
        self._units, self._todo, self._claims = prefix + "units", prefix + "todo", prefix + "claims"
        self._seconds, self._texts, self._losses = prefix + "seconds", prefix + "texts", prefix + "losses"
        self._partials = prefix + "partials"  # units given back mid-way by a stopping worker
        self._order, self._held = prefix + "order", prefix + "held:"  # pieces' live segments
        self._claim = redis.register_script(_CLAIM)
        self._publish_in_order = redis.register_script(_PUBLISH_IN_ORDER)

    @property
    def _scratch(self) -> list[str]:
        return [
            self._units,
            self._todo,
            self._claims,
            self._seconds,
            self._texts,
            self._losses,
            self._partials,
            self._order,
        ]

    def plan(self, units: Sequence[Unit]) -> None:
        """List the units to claim."""
        with self._redis.pipeline() as pipe:
            pipe.delete(*self._scratch)
            if units:
                pipe.hset(self._units, mapping={index: unit.to_json() for index, unit in enumerate(units)})
                pipe.rpush(self._todo, *range(len(units)))
            for key in self._scratch:
                pipe.expire(key, self._ttl)
            pipe.execute()

    def planned(self) -> bool:
        """Whether the units are listed already (by a leader that handed the batch on)."""
        return bool(self._redis.exists(self._units))

    def units(self) -> list[Unit]:
        """The units listed, in order."""
        stored = self._redis.hgetall(self._units)
        return [Unit.from_json(stored[key]) for key in sorted(stored, key=int)]

    def add_helpers(self, helpers: Sequence[str]) -> None:
        """List helper tasks (before they are sent, so a cancel finds them)."""
        if helpers:
            key = Job.helpers_key(self.id)
            with self._redis.pipeline() as pipe:
                pipe.sadd(key, *helpers)
                pipe.expire(key, self._ttl)
                pipe.execute()

    def release(self, index: int, begun: Partial) -> None:
        """Give a claimed unit back, first in line, with how far it got (its claimer is stopping)."""
        with self._redis.pipeline() as pipe:
            pipe.hset(self._partials, str(index), json.dumps(begun.to_dict()))
            pipe.expire(self._partials, self._ttl)
            pipe.hdel(self._claims, str(index))
            pipe.lpush(self._todo, index)
            pipe.expire(self._todo, self._ttl)
            pipe.execute()

    def claim(self, claimer: str) -> tuple[int, Unit, Partial | None] | None:
        """The next unit for ``claimer`` to transcribe, with how far a stopped worker got in it,
        or None when there is none (any more)."""
        keys: list[str | bytes] = [self._todo, self._claims, self._state_key, Job.heartbeat_key(self.id)]
        index = self._claim(keys=keys, args=[claimer, self._ttl])
        if index is None:
            return None
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(self._units, index)
            pipe.hget(self._partials, index)
            unit, partial = pipe.execute()
        if unit is None:
            return None
        begun = Partial.from_dict(json.loads(partial)) if partial is not None else None
        return int(index), Unit.from_json(unit), begun

    def report_seconds(self, index: int, seconds: float) -> None:
        """``seconds`` into unit ``index`` (from its start) are transcribed."""
        self._set(self._seconds, str(index), repr(seconds))

    def publish(self, index: int, unit: Unit, segment: Segment) -> None:
        """Publish a live ``segment`` of unit ``index``: now, or when the earlier pieces of its
        file are (see ``_PUBLISH_IN_ORDER``)."""
        if self._log is None:
            return
        if unit.whole:
            self._log.publish(unit.path, segment)
        else:
            self._in_order(index, unit, self._log.root(unit.path, segment), done=False)

    def finish(self, index: int, unit: Unit, transcript: Transcript) -> None:
        self._set(self._texts, str(index), json.dumps(transcript.to_dict()))
        if self._log is not None and not unit.whole:
            self._in_order(index, unit, "", done=True)

    def _in_order(self, index: int, unit: Unit, root: str, done: bool) -> None:
        assert self._log is not None
        first = index - unit.piece
        args = [self._held, first, first + unit.pieces - 1, index, root, "1" if done else "0"]
        try:
            self._publish_in_order(keys=[self._log.key, self._order], args=[*args, self._ttl, self._log.cap])
        except Exception:
            # Live text is a bonus: the transcript still reaches the result.
            logger.warning("Could not publish segments of %s", unit.describe(), exc_info=True)

    def finished(self) -> bool:
        with self._redis.pipeline() as pipe:
            pipe.hlen(self._texts)
            pipe.hlen(self._units)
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
        """Units whose claimer stopped beating (its worker died) go back to be claimed again;
        one that lost ``attempts`` claimers is finished as an error instead. Returns how many.
        (What a lost claimer published of a unit is not taken back: the unit's segments are
        published again from its start, as a whole file's would be.)"""
        snapshot = self.snapshot()
        running = sorted((index, snapshot.claimed[index]) for index in snapshot.running)
        if not running:
            return 0
        beating = self._redis.mget([Job.heartbeat_key(claimer) for _, claimer in running])
        lost = [index for (index, _), beat in zip(running, beating, strict=True) if beat is None]
        for index in lost:
            with self._redis.pipeline() as pipe:
                pipe.hdel(self._claims, str(index))
                pipe.hincrby(self._losses, str(index), 1)
                pipe.expire(self._losses, self._ttl)
                pipe.hget(self._units, index)
                _, losses, _, stored = pipe.execute()
            unit = Unit.from_json(stored)
            if losses < attempts:
                logger.warning("Taking back %s of batch %s: its worker was lost", unit.describe(), self.id)
                with self._redis.pipeline() as pipe:
                    pipe.rpush(self._todo, index)
                    pipe.expire(self._todo, self._ttl)
                    pipe.execute()
            else:
                logger.warning(
                    "Giving up on %s of batch %s: %d workers were lost on it", unit.describe(), self.id, losses
                )
                error = f"Could not transcribe {unit.path.name}: worker lost"
                self.finish(index, unit, Transcript(unit.path, error=error))
        return len(lost)

    def transcripts(self, paths: Sequence[Path], units: Sequence[Unit]) -> list[Transcript]:
        """Each file's transcript: its unit's, or its pieces' merged."""
        stored = {int(k): json.loads(v) for k, v in self._redis.hgetall(self._texts).items()}
        by_file: list[list[Transcript]] = [[] for _ in paths]
        for index, unit in enumerate(units):
            by_file[unit.file].append(Transcript.from_dict(unit.path, stored[index]))
        return [
            pieces[0] if len(pieces) == 1 else merge(path, pieces) for path, pieces in zip(paths, by_file, strict=True)
        ]

    def _set(self, key: str, field: str, value: str) -> None:
        # Each write that may create a hash gives it the batch's expiry, so a batch whose
        # leader never cleans up (cancelled, its worker killed) leaves nothing for ever.
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, field, value)
            pipe.expire(key, self._ttl)
            pipe.execute()

    def clean_up(self, units: int) -> None:
        """Delete the batch's lists (``units``: how many it has)."""
        self._redis.delete(*self._scratch, *(self._held + str(index) for index in range(units)))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

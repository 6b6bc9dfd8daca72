"""A batch's files shared out among worker processes through Redis.

The task that took the batch (its leader) lists its units (whole files, and pieces of long
files: live_progress/plugins/audio/worker/pieces.py); it and its helper tasks claim them one at a time, report seconds
done, and store each transcript. Only the leader writes the batch's state; the others only
write here.

Each unit's live segments go to a list of its own, and are published from there once every
earlier piece of the file is published, so a client reads a file's segments in order and each
once: a whole file, and the piece the file has reached, are published as they are decoded, and
a piece done ahead of it all at once when it is reached (``_PUBLISH_IN_ORDER``). How far each
unit got is saved with each of its segments, and every write about a unit checks that its
claimer still holds it: a unit taken back from a lost worker resumes after what was published
of it, and the lost worker, should it wake, writes nothing more.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from redis import Redis

from live_progress import Job, through_outages
from live_progress.plugins.audio.worker.checkpoint import Partial, Transcript
from live_progress.plugins.audio.worker.pieces import Unit, merge
from live_progress.plugins.audio.worker.segments import SegmentLog
from live_progress.plugins.audio.worker.transcription import Segment

logger = logging.getLogger(__name__)

# A claimer is "<task id> <token of its execution>" (``claimer_of``), and the execution of a
# task that was taken over (its run holds another token now) writes nothing more, whether or
# not its units were taken back yet. KEYS[#KEYS] is the claimer's run; ARGV[2] the claimer.
_CURRENT = """
local token = string.match(ARGV[2], ' (.+)$')
if token and redis.call('HGET', KEYS[#KEYS], 'token') ~= token then return false end
"""

# Claims the next file, atomically with recording who has it (a claimer that died between
# the two would lose the file), and only while the batch runs: a batch that was cancelled
# or has lost its leader hands out nothing more.
# KEYS: todo, claims, the batch's Celery state, its heartbeat, the claimer's run. ARGV: the
# keys' ttl, the claimer.
_CLAIM = (
    _CURRENT
    + """
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
  redis.call('HSET', KEYS[2], index, ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
return index
"""
)

# Every write about a unit is made only while its claimer still holds it (the claims hash says
# so) and is the execution of its task that may write (``_CURRENT``): a worker that was lost,
# and wakes after its unit or its task was taken over, writes nothing more.
# KEYS[1] is the claims hash, KEYS[#KEYS] the claimer's run; ARGV[1] the unit, ARGV[2] its
# claimer ('' for the leader, which finishes a unit nobody holds any more).
_HELD = (
    _CURRENT.replace("return false", "return 0")
    + """
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
"""
)

# Holds a segment of a unit (if any) with how far the unit got, marks the unit done with its
# transcript (if so), then publishes, in order, what the file's units hold from the first not
# wholly published on, up to the first unit not done: one script, so two participants cannot
# publish the same segment, nor one piece's ahead of an earlier one's, and a unit taken back
# from a lost worker resumes exactly after what was published of it. The publishing is
# live_progress.Job's (XADD, then PUBLISH of "<id> <json>").
# KEYS: claims, the segments' stream, the batch's order hash (next:<first piece> -> the piece
# to publish from; sent:<piece> -> how many of its held segments are published; done:<piece>),
# partials, texts.
# ARGV: the unit, its claimer, held lists' prefix, the file's first and last unit, the
# segment's JSON or '', the unit's partial JSON or '', its transcript's JSON or '' (not done),
# the keys' ttl, the stream's cap ('0': publish nothing).
_PUBLISH_IN_ORDER = (
    _HELD
    + """
local piece, prefix, first, last = ARGV[1], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local ttl = ARGV[9]
if ARGV[6] ~= '' then
  redis.call('RPUSH', prefix .. piece, ARGV[6])
  redis.call('EXPIRE', prefix .. piece, ttl)
end
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[4], piece, ARGV[7])
  redis.call('EXPIRE', KEYS[4], ttl)
end
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[5], piece, ARGV[8])
  redis.call('EXPIRE', KEYS[5], ttl)
  redis.call('HSET', KEYS[3], 'done:' .. piece, 1)
end
local at = tonumber(redis.call('HGET', KEYS[3], 'next:' .. first) or first)
while at <= last do
  local sent = tonumber(redis.call('HGET', KEYS[3], 'sent:' .. at) or 0)
  local held = redis.call('LRANGE', prefix .. at, sent, -1)
  if ARGV[10] ~= '0' then
    for _, root in ipairs(held) do
      local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[10], '*', 'root', root)
      redis.call('PUBLISH', KEYS[2], id .. ' ' .. root)
    end
  end
  if #held > 0 then
    if ARGV[10] ~= '0' then redis.call('EXPIRE', KEYS[2], ttl) end
    redis.call('HSET', KEYS[3], 'sent:' .. at, sent + #held)
  end
  if redis.call('HEXISTS', KEYS[3], 'done:' .. at) == 0 then break end
  redis.call('DEL', prefix .. at)
  at = at + 1
  redis.call('HSET', KEYS[3], 'next:' .. first, at)
end
redis.call('EXPIRE', KEYS[3], ttl)
return 1
"""
)

# KEYS: claims, seconds. ARGV: the unit, its claimer, the seconds reached into it, the ttl.
_REPORT = (
    _HELD
    + """
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""
)

# KEYS: claims, partials, todo. ARGV: the unit, its claimer, how far it got (JSON), the ttl.
_RELEASE = (
    _HELD
    + """
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('LPUSH', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[4])
return 1
"""
)


# Takes a unit back from its claimer, which was lost: it goes back to be claimed again or, lost
# ``attempts`` times, to the leader taking it back, which finishes it as an error. Made only by
# the leader's current execution, and only while the lost claimer still holds the unit.
# KEYS: claims, losses, todo, the leader's run. ARGV: the unit, the leader (claimer), the lost
# claimer, the ttl, attempts. Returns how many claimers the unit has lost, or false.
_TAKE_BACK = (
    _CURRENT
    + """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[3] then return false end
local losses = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('EXPIRE', KEYS[2], ARGV[4])
if losses < tonumber(ARGV[5]) then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('RPUSH', KEYS[3], ARGV[1])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return losses
"""
)

# Deletes the batch's lists, unless the leader cleaning up was taken over (its successor needs
# them). KEYS: the lists, then the leader's run. ARGV: unused, the leader (claimer).
_CLEAN_UP = (
    _CURRENT
    + """
for i = 1, #KEYS - 1 do redis.call('DEL', KEYS[i]) end
return 1
"""
)


def claimer_of(task_id: str, execution: str) -> str:
    """Who claims a unit: a task, and its execution's token (``live_progress.Job.execution``),
    which its heartbeat holds while it runs."""
    return f"{task_id} {execution}" if execution else task_id


@dataclass(frozen=True, slots=True)
class Snapshot:
    seconds: dict[int, float]  # seconds reached into each unit being transcribed
    done: set[int]
    claimed: dict[int, str]  # unit -> the task that has it

    @property
    def running(self) -> set[int]:
        return self.claimed.keys() - self.done


T = TypeVar("T")


def _through_outages(method: Callable[..., T]) -> Callable[..., T]:
    """A batch's read or write, tried again while Redis restarts (live_progress/outages.py): a
    leader whose write fails ends its job in error. Each may run twice: the scripts check what
    they change (a unit's claim, its text, the order published)."""

    @functools.wraps(method)
    def ridden(self: SharedBatch, *args: Any, **kwargs: Any) -> T:
        what = f"{method.__name__.replace('_', ' ')} for batch {self.id}"
        return through_outages(lambda: method(self, *args, **kwargs), what)

    return ridden


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
        self._partials = prefix + "partials"  # how far each unit begun got (its published segments)
        self._order, self._held = prefix + "order", prefix + "held:"  # units' live segments
        self._claim = redis.register_script(_CLAIM)
        self._publish_in_order = redis.register_script(_PUBLISH_IN_ORDER)
        self._report = redis.register_script(_REPORT)
        self._release = redis.register_script(_RELEASE)
        self._take_back = redis.register_script(_TAKE_BACK)
        self._clean_up = redis.register_script(_CLEAN_UP)
        # Units this process claimed and was found to have lost (taken back while it was away).
        self._lost: set[int] = set()

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

    @_through_outages
    def planned(self) -> bool:
        """Whether the units are listed already (by an earlier leader of the batch)."""
        return bool(self._redis.exists(self._units))

    @_through_outages
    def units(self) -> list[Unit]:
        """The units listed, in order."""
        stored = self._redis.hgetall(self._units)
        return [Unit.from_json(stored[key]) for key in sorted(stored, key=int)]

    @_through_outages
    def add_helpers(self, helpers: Sequence[str]) -> None:
        """List helper tasks (before they are sent, so a cancel finds them)."""
        if helpers:
            key = Job.helpers_key(self.id)
            with self._redis.pipeline() as pipe:
                pipe.sadd(key, *helpers)
                pipe.expire(key, self._ttl)
                pipe.execute()

    def lost(self, index: int) -> bool:
        """Whether unit ``index``, claimed here, was taken back from this process."""
        return index in self._lost

    def _held_write(self, script: Any, index: int, claimer: str, keys: list[str], args: list[Any]) -> None:
        keys = [self._claims, *keys, _run_of(claimer)]
        if script(keys=keys, args=[index, claimer, *args]) == 0 and index not in self._lost:
            self._lost.add(index)
            logger.warning("%s no longer holds unit %d of batch %s: it was taken back", claimer, index, self.id)

    def release(self, index: int, begun: Partial, claimer: str) -> None:
        """Give a claimed unit back, first in line, with how far it got (its claimer is stopping)."""
        args = [json.dumps(begun.to_dict()), self._ttl]
        self._held_write(self._release, index, claimer, [self._partials, self._todo], args)

    @_through_outages
    def claim(self, claimer: str) -> tuple[int, Unit, Partial | None] | None:
        """The next unit for ``claimer`` to transcribe, with how far an earlier claimer got in it
        (one that stopped, or was lost), or None when there is none (any more)."""
        keys: list[str | bytes] = [
            self._todo,
            self._claims,
            self._state_key,
            Job.heartbeat_key(self.id),
            _run_of(claimer),
        ]
        index = self._claim(keys=keys, args=[self._ttl, claimer])
        if index is None:
            return None
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(self._units, index)
            pipe.hget(self._partials, index)
            unit, partial = pipe.execute()
        if unit is None:
            return None
        self._lost.discard(int(index))
        begun = Partial.from_dict(json.loads(partial)) if partial is not None else None
        return int(index), Unit.from_json(unit), begun

    def report_seconds(self, index: int, seconds: float, claimer: str) -> None:
        """``seconds`` into unit ``index`` (from its start) are transcribed."""
        # float(): with word timestamps faster-whisper gives numpy floats, whose repr is not a number.
        self._held_write(self._report, index, claimer, [self._seconds], [repr(float(seconds)), self._ttl])

    def publish(self, index: int, unit: Unit, segment: Segment, claimer: str, begun: Partial) -> None:
        """Publish a live ``segment`` of unit ``index`` (now, or when the earlier pieces of its
        file are: see ``_PUBLISH_IN_ORDER``), with ``begun``, how far the unit got with it."""
        root = self._log.root(unit.path, segment) if self._log is not None else ""
        self._in_order(index, unit, claimer, root, json.dumps(begun.to_dict()), "")

    @_through_outages
    def finish(self, index: int, unit: Unit, transcript: Transcript, claimer: str = "") -> None:
        """Store unit ``index``'s transcript (``claimer`` '': the leader, on a unit nobody holds)."""
        self._in_order(index, unit, claimer, "", "", json.dumps(transcript.to_dict()))

    def _in_order(self, index: int, unit: Unit, claimer: str, root: str, partial: str, text: str) -> None:
        first = index - unit.piece
        stream = self._log.key if self._log is not None else self._held + "unpublished"
        cap = self._log.cap if self._log is not None else 0
        keys = [stream, self._order, self._partials, self._texts]
        args = [self._held, first, first + unit.pieces - 1, root, partial, text, self._ttl, cap]
        try:
            self._held_write(self._publish_in_order, index, claimer, keys, args)
        except Exception:
            if text:
                raise  # the transcript must be stored
            # Live text is a bonus: the transcript still reaches the result.
            logger.warning("Could not publish segments of %s", unit.describe(), exc_info=True)

    @_through_outages
    def finished(self) -> bool:
        with self._redis.pipeline() as pipe:
            pipe.hlen(self._texts)
            pipe.hlen(self._units)
            done, total = pipe.execute()
        return bool(done == total)

    @_through_outages
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

    @_through_outages
    def take_back_lost(self, attempts: int, leader: str = "") -> int:
        """Units whose claimer stopped beating (its worker died, or was taken over) go back to be
        claimed again, to resume after what was published of them; one that lost ``attempts``
        claimers is finished as an error by ``leader`` (its claimer) instead. Returns how many."""
        snapshot = self.snapshot()
        running = sorted((index, snapshot.claimed[index]) for index in snapshot.running)
        if not running:
            return 0
        claimers = [claimer.partition(" ") for _, claimer in running]
        beating = self._redis.mget([Job.heartbeat_key(task_id) for task_id, _, _ in claimers])
        lost = [
            (index, claimer)
            for (index, claimer), (_, _, execution), beat in zip(running, claimers, beating, strict=True)
            if beat is None or (execution and _text(beat) != execution)
        ]
        taken = 0
        for index, claimer in lost:
            keys = [self._claims, self._losses, self._todo, _run_of(leader)]
            losses = self._take_back(keys=keys, args=[index, leader, claimer, self._ttl, attempts])
            if losses is None:
                continue  # claimed anew meanwhile, or this leader was taken over itself
            taken += 1
            unit = Unit.from_json(self._redis.hget(self._units, index))
            if losses < attempts:
                logger.warning("Taking back %s of batch %s: its worker was lost", unit.describe(), self.id)
            else:
                logger.warning(
                    "Giving up on %s of batch %s: %d workers were lost on it", unit.describe(), self.id, losses
                )
                error = f"Could not transcribe {unit.path.name}: worker lost"
                self.finish(index, unit, Transcript(unit.path, error=error), leader)
        return taken

    @_through_outages
    def transcripts(self, paths: Sequence[Path], units: Sequence[Unit]) -> list[Transcript]:
        """Each file's transcript: its unit's, or its pieces' merged."""
        stored = {int(k): json.loads(v) for k, v in self._redis.hgetall(self._texts).items()}
        by_file: list[list[Transcript]] = [[] for _ in paths]
        for index, unit in enumerate(units):
            by_file[unit.file].append(Transcript.from_dict(unit.path, stored[index]))
        return [
            pieces[0] if len(pieces) == 1 else merge(path, pieces) for path, pieces in zip(paths, by_file, strict=True)
        ]

    @_through_outages
    def clean_up(self, units: int, leader: str = "") -> None:
        """Delete the batch's lists (``units``: how many it has), unless ``leader`` (its claimer)
        was taken over."""
        lists = [*self._scratch, *(self._held + str(index) for index in range(units))]
        self._clean_up(keys=[*lists, _run_of(leader)], args=["", leader])


def _run_of(claimer: str) -> str:
    """The run of the claimer's task (the leader, claimer '', checks none)."""
    return Job.run_key(claimer.partition(" ")[0])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

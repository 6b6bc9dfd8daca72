"""A running task whose worker is gone (SIGKILL, the OOM killer, a crash, a frozen VM) goes back
to the queue under its id, and the next free worker resumes it from what it published.

This project's worker records each execution of a task in a Redis hash, the task's *run*
(``contract.run_key``): the task's name and arguments (to send it again), the *token* of the
execution that holds it (every write of an execution is checked against it:
live_progress/worker/attempts.py), its ``state`` (``running`` or ``queued``), its ``attempt``
(1 plus the deaths so far) and what each attempt was working on (``Job.working_on``). A running
execution keeps the task's heartbeat key holding its token.

``claim`` is the one step that decides a task's worker is lost, atomically in Redis, so that
however many web processes and workers notice, exactly one sends it again: the task must be
``running``, its heartbeat gone (or another execution's), and its Celery state not final. The
claim clears the token (the lost execution, if it was only paused, can write nothing more),
writes the ``WAITING`` state with the percent kept, and answers what to send; or, after
``max_attempts`` deaths, writes the failure that names what each attempt was on.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import Redis

from live_progress.contract import RUNNING_KEY, checkpoint_key, heartbeat_key, run_key

logger = logging.getLogger(__name__)

# KEYS: the run, the heartbeat, the task's Celery state, the running set, the checkpoint.
# ARGV: the task id, the most attempts, the states' ttl, now (ISO 8601), the waiting text, '1' when
# the execution is known dead (its pool process died: its heartbeat has not expired yet), '1' when
# a task without a run that a worker is executing is to be recorded failed.
_CLAIM = """
local function fail(message)
  local failure = '{"status": "FAILURE", "result": {"exc_type": "WorkerLostError", "exc_message": ['
    .. cjson.encode(message) .. '], "exc_module": "billiard.exceptions"}, "traceback": null, '
    .. '"children": [], "date_done": ' .. cjson.encode(ARGV[4]) .. ', "task_id": ' .. cjson.encode(ARGV[1]) .. '}'
  redis.call('SET', KEYS[3], failure, 'EX', ARGV[3])
  redis.call('PUBLISH', KEYS[3], failure)
  return {'failed', message}
end
local meta = {}
local stored = redis.call('GET', KEYS[3])
if stored then
  local ok, decoded = pcall(cjson.decode, stored)
  if ok and type(decoded) == 'table' then meta = decoded end
end
local ended = meta.status == 'SUCCESS' or meta.status == 'FAILURE' or meta.status == 'REVOKED'
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('SREM', KEYS[4], ARGV[1])
  if ended then return {'ended'} end
  -- Not this project's worker: nothing to resume from. Checked here, in the same step as the
  -- write, so that a state that has just ended is never overwritten.
  local waiting = meta.status == nil or meta.status == 'PENDING' or meta.status == 'RETRY' or meta.status == 'WAITING'
  if ARGV[7] == '1' and not waiting then return fail('worker lost') end
  return {'foreign'}
end
if state ~= 'running' then
  redis.call('SREM', KEYS[4], ARGV[1])
  return {'queued'}
end
local token = redis.call('HGET', KEYS[1], 'token')
if ARGV[6] ~= '1' and redis.call('GET', KEYS[2]) == token then return {'alive'} end
if ended then
  redis.call('DEL', KEYS[1], KEYS[5])
  redis.call('SREM', KEYS[4], ARGV[1])
  return {'ended'}
end
local lost = tonumber(redis.call('HGET', KEYS[1], 'attempt') or '1')
local on = redis.call('HGET', KEYS[1], 'on') or ''
redis.call('HSET', KEYS[1], 'on:' .. lost, on, 'on', '', 'attempt', lost + 1, 'state', 'queued', 'token', '')
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('SREM', KEYS[4], ARGV[1])
if lost >= tonumber(ARGV[2]) then
  local where = {}
  for n = 1, lost do
    local item = redis.call('HGET', KEYS[1], 'on:' .. n)
    if item and item ~= '' then
      where[#where + 1] = 'attempt ' .. n .. ' on ' .. item
    else
      where[#where + 1] = 'attempt ' .. n .. ' while starting'
    end
  end
  local times = lost == 1 and '' or (' ' .. lost .. ' times')
  -- contract.failure_reason keeps a WorkerLostError's message that starts so.
  redis.call('DEL', KEYS[1], KEYS[5])
  return fail('worker lost' .. times .. ' (' .. table.concat(where, ', ') .. ')')
end
local shown = type(meta.result) == 'table' and meta.result or {}
local percent = tonumber(shown.percent) or 0
local waiting = {percent = percent, description = string.format(ARGV[5], lost + 1, ARGV[2])}
if type(shown.current) == 'number' then waiting.current = shown.current end
if type(shown.total) == 'number' then waiting.total = shown.total end
local state_json = '{"status": "WAITING", "result": ' .. cjson.encode(waiting)
  .. ', "traceback": null, "children": [], "date_done": null, "task_id": ' .. cjson.encode(ARGV[1]) .. '}'
redis.call('SET', KEYS[3], state_json, 'EX', ARGV[3])
redis.call('PUBLISH', KEYS[3], state_json)
local run = redis.call('HMGET', KEYS[1], 'name', 'args', 'kwargs', 'queue')
return {'requeue', tostring(lost + 1), run[1] or '', run[2] or '[]', run[3] or '{}', run[4] or ''}
"""

# What a client reads while a task whose worker was lost waits for the next one (%s: the attempt
# that comes, and how many there may be).
WAITING_TEXT = "Worker lost; the job resumes on the next free worker (attempt %s of %s)"


@dataclass(frozen=True, slots=True)
class Claim:
    """What ``claim`` found: ``foreign`` (no run: not this project's worker), ``queued`` (nobody
    owes it a sign of life), ``alive``, ``ended`` (its state is final), ``requeue`` (taken over:
    send it again, with ``name``, ``args``, ``kwargs`` and ``queue``) or ``failed`` (its workers
    died ``max_attempts`` times, or a foreign one was lost: ``message`` says where)."""

    outcome: str
    attempt: int = 0
    name: str = ""
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] | None = None
    queue: str | None = None
    message: str = ""


def claim(
    redis: Redis,
    task_id: str,
    state_key: bytes | str,
    max_attempts: int,
    ttl: int,
    dead: bool = False,
    fail_foreign: bool = False,
) -> Claim:
    """Take the task over if its worker is lost (see the module's docstring); one step in Redis."""
    now = datetime.datetime.now(datetime.UTC).isoformat()
    keys = [run_key(task_id), heartbeat_key(task_id), state_key, RUNNING_KEY, checkpoint_key(task_id)]
    argv: list[str | int] = [task_id, max_attempts, ttl, now, WAITING_TEXT, _flag(dead), _flag(fail_foreign)]
    reply = redis.register_script(_CLAIM)(keys=keys, args=argv)
    outcome, *rest = [part.decode() if isinstance(part, bytes) else str(part) for part in reply]
    if outcome == "failed":
        return Claim(outcome, message=rest[0])
    if outcome != "requeue":
        return Claim(outcome)
    attempt, name, args, kwargs, queue = rest
    return Claim(outcome, int(attempt), name, tuple(json.loads(args)), json.loads(kwargs), queue or None)


def take_over(
    celery: Any,
    task_id: str,
    max_attempts: int,
    dead: bool = False,
    send: Callable[[Callable[[], Any]], Any] | None = None,
    fail_foreign: bool = False,
) -> Claim:
    """``claim`` through ``celery``'s result backend, then, when the task was taken over, send it
    to its queue again under its id (with Celery's publish retries). ``dead``: the execution is
    known to have died (its worker saw its pool process die), whatever its heartbeat says.
    ``send``: runs the sending (default: here and now). ``fail_foreign``: a task without a run
    (not this project's worker) that a worker was executing is recorded failed with its worker
    (outcome ``failed``), unless its state is final by then."""
    backend = celery.backend
    expires = celery.conf.result_expires
    ttl = int(expires.total_seconds() if isinstance(expires, datetime.timedelta) else expires or 86_400)
    key = backend.get_key_for_task(task_id)
    taken = claim(backend.client, task_id, key, max_attempts, ttl, dead, fail_foreign)
    if taken.outcome == "requeue":
        logger.warning(
            "Task %s: its worker is lost; sent again for attempt %d of %d",
            task_id,
            taken.attempt,
            max_attempts,
            extra={"task_id": task_id},
        )
        (send or _now)(
            lambda: celery.send_task(
                taken.name, args=taken.args, kwargs=taken.kwargs, task_id=task_id, queue=taken.queue
            )
        )
    elif taken.outcome == "failed":
        logger.warning("Task %s failed: %s", task_id, taken.message, extra={"task_id": task_id})
    return taken


def _now(call: Callable[[], Any]) -> Any:
    return call()


def _flag(value: bool) -> str:
    return "1" if value else "0"

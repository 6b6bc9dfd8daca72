"""Browser sign-ins when API_TOKEN is set: random per sign-in, signed, expiring, ended by /logout.

The cookie holds a random session id, signed with a timestamp by itsdangerous under a key
derived from the token. Redis keeps each live id for the same lifetime, so /logout ends a
session on every replica at once and a replayed cookie finds nothing; changing the token
voids every cookie. Failed sign-ins are counted per client in Redis, for every replica alike.
"""

from __future__ import annotations

import secrets

from itsdangerous import BadSignature, TimestampSigner
from redis.asyncio import Redis

from live_progress.web.engine.store import redis_errors
from live_progress.web.settings import Settings

_SESSION_PREFIX = "live-progress:session:"
_ATTEMPTS_PREFIX = "live-progress:login-attempts:"


class Sessions:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        if not settings.api_token:
            raise ValueError("Sessions need an API token to sign with")
        self._redis = redis
        self._signer = TimestampSigner(settings.api_token, salt="live-progress session")
        self.max_age = settings.session_max_age
        self._max_failures = settings.login_max_failures
        self._failure_window = settings.login_failure_window

    async def start(self) -> str:
        """A new session; the cookie value that carries it."""
        session_id = secrets.token_urlsafe(32)
        with redis_errors():
            await self._redis.set(_SESSION_PREFIX + session_id, b"1", ex=self.max_age)
        return self._signer.sign(session_id).decode()

    async def is_live(self, cookie: str) -> bool:
        session_id = self._session_id(cookie, self.max_age)
        if session_id is None:
            return False  # forged, damaged or expired: no need to ask Redis
        with redis_errors():
            return bool(await self._redis.exists(_SESSION_PREFIX + session_id))

    async def seconds_left(self, cookie: str) -> int | None:
        """How long the session of ``cookie`` lasts yet, or None when it is not live."""
        session_id = self._session_id(cookie, self.max_age)
        if session_id is None:
            return None
        with redis_errors():
            ttl = await self._redis.ttl(_SESSION_PREFIX + session_id)
        return ttl if ttl >= 0 else None

    async def end(self, cookie: str) -> None:
        session_id = self._session_id(cookie, None)
        if session_id is not None:
            with redis_errors():
                await self._redis.delete(_SESSION_PREFIX + session_id)

    async def admit_attempt(self, client: str) -> int:
        """Counts a sign-in attempt by ``client``; returns 0 when it may go ahead, else the
        seconds until it may try again.

        Every attempt counts before the token is checked, so parallel guesses cannot slip
        past the limit; a successful sign-in clears the count (``forget_attempts``).
        """
        key = _ATTEMPTS_PREFIX + client
        with redis_errors():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(key, 0, ex=self._failure_window, nx=True)
                pipe.incr(key)
                pipe.ttl(key)
                _, attempts, ttl = await pipe.execute()
        if attempts <= self._max_failures:
            return 0
        return max(int(ttl), 1)

    async def forget_attempts(self, client: str) -> None:
        with redis_errors():
            await self._redis.delete(_ATTEMPTS_PREFIX + client)

    def _session_id(self, cookie: str, max_age: int | None) -> str | None:
        try:
            return self._signer.unsign(cookie, max_age=max_age).decode()
        except (BadSignature, UnicodeError):
            return None

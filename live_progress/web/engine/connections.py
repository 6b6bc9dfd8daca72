"""The web process's own connections to Redis: a pool for reads, one for the subscription.

With a ``sentinel://`` URL (live_progress/redis_url.py) both come from redis-py's Sentinel: each new
connection asks the sentinels where the master is, so after a failover the next connection
reaches the new one. Connections already open stay where they are: the subscription's dies
with the old primary (or is closed by Sentinel when it demotes a primary that is still up,
see docs/failures.md), and a pooled one that hits it is retried on a new connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialBackoff, NoBackoff

from live_progress.redis_url import SentinelURL, is_sentinel
from live_progress.web.settings import Settings


class SentinelBlockingConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool (connections to whichever server is master) that, like the plain
    BlockingConnectionPool, makes a burst of requests wait for a connection."""


@dataclass
class Connections:
    reads: Redis
    listener: Redis
    sentinel: Sentinel | None = None

    async def aclose(self) -> None:
        await self.reads.aclose()
        await self.listener.aclose()
        if self.sentinel is not None:
            await self.sentinel.aclose()


def connect(settings: Settings) -> Connections:
    """Clients for ``settings.result_backend``; nothing connects until first used."""
    url = settings.result_backend
    # A burst of requests waits for one of a bounded set of connections rather than
    # failing; a pooled connection that died with a Redis restart is retried on a new one.
    reads: dict[str, Any] = {
        "max_connections": settings.redis_max_connections,
        "timeout": 5,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
    }
    # The subscription reconnects in the hub, which must know when it did (messages may
    # have been missed), so the client must not retry behind its back.
    listener: dict[str, Any] = {"socket_connect_timeout": 2, "socket_keepalive": True, "retry": Retry(NoBackoff(), 0)}
    if not is_sentinel(url):
        # from_pool: the client owns its pool and disconnects it on aclose() (a client given a
        # pool with connection_pool= leaves it open, its connections then freed only by the GC).
        return Connections(
            Redis.from_pool(BlockingConnectionPool.from_url(url, **reads)), Redis.from_url(url, **listener)
        )
    where = SentinelURL.parse(url)
    sentinel = Sentinel(
        where.sentinels,
        # A sentinel that is down or hangs is skipped for the next one, not retried.
        sentinel_kwargs={"socket_connect_timeout": 2, "socket_timeout": 2, "retry": Retry(NoBackoff(), 0)},
        **where.master_options(),
    )
    master = settings.redis_sentinel_master
    return Connections(
        sentinel.master_for(master, connection_pool_class=SentinelBlockingConnectionPool, **reads),
        sentinel.master_for(master, **listener),
        sentinel,
    )

"""A worker's write rides out a Redis that restarts: tried again until it answers, for a while."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import BusyLoadingError, ConnectionError

from live_progress.launch.redis_server import RedisServer
from live_progress.outages import through_outages


def test_a_write_waits_for_redis_to_come_back(tmp_path: Path) -> None:
    server = RedisServer(data_dir=tmp_path / "redis").start()
    client = Redis.from_url(server.url, socket_connect_timeout=1)
    try:
        client.set("before", "1")
        server.stop()
        restart = threading.Timer(1.5, server.start)
        restart.start()
        began = time.monotonic()

        through_outages(lambda: client.set("during", "2"), "write during a restart", seconds=20)

        assert time.monotonic() - began >= 1.0  # it did wait for the restart
        assert client.mget("before", "during") == [b"1", b"2"]  # and kept what was there
        restart.join()
    finally:
        client.close()
        server.stop()


def test_a_redis_that_stays_away_fails_the_write_in_the_end() -> None:
    server = RedisServer().start()
    client = Redis.from_url(server.url, socket_connect_timeout=1)
    server.stop()
    try:
        with pytest.raises(ConnectionError):
            through_outages(lambda: client.set("k", "v"), "write to a Redis that is gone", seconds=1)
    finally:
        client.close()


def test_redis_loading_its_data_counts_as_not_answering() -> None:
    # What a restarted Redis answers while it reads its append-only file: waited out too.
    assert issubclass(BusyLoadingError, ConnectionError)

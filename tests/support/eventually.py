"""Waiting for a condition in tests: poll it until it holds or a deadline passes (never a bare sleep)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], T | Awaitable[T]], timeout: float = 10, interval: float = 0.05, what: str = "the condition"
) -> T:
    """The first truthy value of ``check()`` (a plain or an async callable), polled every
    ``interval`` seconds; fails the test, showing the last value, after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        assert time.monotonic() < deadline, f"{what} did not hold within {timeout} s (last: {value!r})"
        await asyncio.sleep(interval)

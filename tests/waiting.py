"""Wait for a condition, with a bound: never "sleep, then hope it happened".

The bound only turns a hang into a failure; it is generous on purpose, so a slow, loaded machine
passes as surely as a fast one. Nothing here measures how long something took."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    condition: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = 30.0,
    interval: float = 0.02,
    what: str = "",
) -> T:
    """Call `condition` (sync or async) until it returns something truthy; return that.
    An AssertionError after `timeout` seconds (with the last value or error) otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: object = None
    while True:
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value  # type: ignore[return-value]
            last = value
        except AssertionError as e:  # a condition may assert, to say what is still missing
            last = e
        if loop.time() >= deadline:
            raise AssertionError(f"not within {timeout}s: {what or condition!r} (last: {last!r})")
        await asyncio.sleep(interval)

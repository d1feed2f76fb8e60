"""Password hashing off the event loop, bounded: a burst of sign-ups queues briefly, then is told
to come back (RESOURCE_EXHAUSTED with retry-after → 429 at the edge), never a deadline blow-up.

argon2id is CPU and memory bound (parameters in domain.py). Hashes run in their own
small pool, one thread per CPU: more would only share the same cores, finish late together and
multiply the memory. The default executor (Vault calls, file reads) stays free for its own work.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
from collections.abc import Callable
from typing import TypeVar

import grpc
from rapport_platform.errors import ResourceExhausted
from rapport_platform.telemetry import meter

from rapport_identity import domain

T = TypeVar("T")
RETRY_AFTER = "retry-after"
# What a call still needs after its hash (a Mongo transaction, token signing in Vault): the
# queue never waits into that part of the caller's deadline.
AFTER_HASH_SECONDS = 1.0

_busy = meter("rapport.identity").create_counter(
    "rapport.identity.password_hashing.busy",
    description="sign-ups and sign-ins refused because every hashing worker stayed busy",
)


def cpu_count() -> int:
    """CPUs this process may run on (taskset and cpusets count; not a cgroup CPU quota)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class Busy(ResourceExhausted):
    """Every hashing worker stayed busy for as long as the caller could wait."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many sign-ins and sign-ups right now; retry in {retry_after} s")
        self.retry_after = retry_after


class PasswordHashing:
    def __init__(self, *, workers: int = 0, queue_seconds: float = 3.0) -> None:
        self.workers = workers or cpu_count()
        self.queue_seconds = queue_seconds
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.workers, thread_name_prefix="argon2"
        )
        self._slots = asyncio.Semaphore(self.workers)
        self.waiting = 0  # calls queued for a worker now
        self.retry_after = max(1, math.ceil(queue_seconds))

    def _wait_budget(self, context: grpc.aio.ServicerContext | None, wait: bool) -> float:
        budget = self.queue_seconds if wait else 0.0
        remaining = context.time_remaining() if context is not None else None
        if remaining is not None:
            budget = min(budget, remaining - AFTER_HASH_SECONDS)
        return budget

    async def run(
        self,
        fn: Callable[..., T],
        *args: object,
        context: grpc.aio.ServicerContext | None = None,
        wait: bool = True,
    ) -> T:
        """fn(*args) on a hashing worker, once one is free within the wait budget (the queue
        time, cut to what the caller's deadline leaves; none without `wait`); else Busy, with
        retry-after set on the call."""
        budget = self._wait_budget(context, wait)
        try:
            if self._slots.locked():
                if budget <= 0:
                    raise TimeoutError
                self.waiting += 1
                try:
                    await asyncio.wait_for(self._slots.acquire(), budget)
                finally:
                    self.waiting -= 1
            else:
                await self._slots.acquire()
        except TimeoutError:
            _busy.add(1)
            if context is not None:
                context.set_trailing_metadata(((RETRY_AFTER, str(self.retry_after)),))
            raise Busy(self.retry_after) from None
        loop = asyncio.get_running_loop()
        try:
            job = self._pool.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        # The slot is freed when the thread is done, not when the caller stops waiting: a
        # cancelled call (client gone) still occupies its core until argon2 returns.
        job.add_done_callback(lambda _: loop.call_soon_threadsafe(self._slots.release))
        return await asyncio.wrap_future(job)

    async def hash(
        self, password: str, context: grpc.aio.ServicerContext | None = None, wait: bool = True
    ) -> str:
        return await self.run(domain.hash_password, password, context=context, wait=wait)

    async def matches(
        self,
        password_hash: str | None,
        password: str,
        context: grpc.aio.ServicerContext | None = None,
    ) -> bool:
        return await self.run(domain.password_matches, password_hash, password, context=context)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

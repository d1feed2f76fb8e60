"""Database commands per booking, by database and operation: SecantusDB's cost follows the number
of commands it serves, so this is where a booking's database work is counted.

The server's own profiler (`profile: 2` on every service database) records each command with its
namespace while a few bookings run one after another; once every consumer has caught up, the
records are grouped. An idle window of the same length before it is counted too and subtracted
(the relays' polls), so what is left is what the bookings caused in every process that reacts.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import AsyncMongoClient

SKIP = {"admin", "local", "config"}


def _key(entry: dict[str, Any]) -> tuple[str, str]:
    ns = str(entry.get("ns", ""))
    db, _, coll = ns.partition(".")
    op = str(entry.get("op", ""))
    command = entry.get("command") or {}
    if op == "command" and command:
        op = next(iter(command))
        if op in ("commitTransaction", "abortTransaction"):
            coll = "(transaction)"
    return db, f"{op} {coll}".strip()


async def _profile_on(client: AsyncMongoClient, names: list[str]) -> None:
    for name in names:
        await client[name].command({"profile": 0})
        await client[name]["system.profile"].drop()
        await client[name].command({"profile": 2})


async def _collect(client: AsyncMongoClient, names: list[str]) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for name in names:
        await client[name].command({"profile": 0})
        async for e in client[name]["system.profile"].find({}):
            db, op = _key(e)
            if op.startswith("profile") or "system.profile" in op:
                continue
            counts[(db or name, op)] += 1
    return counts


async def count_commands(
    mongo_uri: str,
    book: Callable[[], Awaitable[int]],
    settled: Callable[[], Awaitable[bool]],
    *,
    labels: dict[str, str],
) -> list[str]:
    """`book()` makes some bookings and returns how many succeeded; `settled()` says once every
    consumer has applied them. `labels` names each database (db name -> service)."""
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        names = [n for n in await client.list_database_names() if n not in SKIP]
        t0 = time.monotonic()
        done = 0
        await _profile_on(client, names)
        done = await book()
        for _ in range(300):
            if await settled():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # the background publishes and marks after the last event
        busy = await _collect(client, names)
        window = time.monotonic() - t0
        await _profile_on(client, names)
        await asyncio.sleep(window)
        idle = await _collect(client, names)
    finally:
        await client.close()
    per = max(done, 1)
    rows = []
    totals: Counter[str] = Counter()
    for (db, op), n in sorted(busy.items()):
        net = (n - idle.get((db, op), 0)) / per
        if net < 0.05:
            continue
        svc = labels.get(db, db)
        totals[svc] += net
        rows.append(f"| {svc} | `{op}` | {net:.1f} |")
    return [
        f"{done} bookings one after another; commands each caused, net of an idle window of the "
        f"same length ({window:.0f} s).",
        "",
        "| service database | command | per booking |",
        "|---|---|---:|",
        *rows,
        *(f"| **{svc}** | **all** | **{n:.1f}** |" for svc, n in sorted(totals.items())),
        f"| **every service** | **all** | **{sum(totals.values()):.1f}** |",
    ]

"""Billing's ledger bench: journal entries per second written the way billing writes them (each
inside `consume_once`, so the event id is recorded in the same transaction: idempotency on), next
to the same entry documents written by bare PyMongo transactions, same server, same run."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient
from rapport_billing import domain
from rapport_billing.store import entry_to_doc
from rapport_platform.outbox import consume_once
from rapport_platform.store import Session, Store


@dataclass
class LedgerFigures:
    entries: int = 0
    seconds: float = 0.0
    bare_entries: int = 0
    bare_seconds: float = 0.0
    replays_ignored: int = 0

    @property
    def per_second(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0

    @property
    def bare_per_second(self) -> float:
        return self.bare_entries / self.bare_seconds if self.bare_seconds else 0.0

    def report(self) -> list[str]:
        lines = [
            "| writer | entries | seconds | entries/s |",
            "|---|---:|---:|---:|",
            f"| consume_once + entry ({self.replays_ignored} replays ignored) | {self.entries} "
            f"| {self.seconds:.2f} | {self.per_second:.1f} |",
            f"| bare transactions of the same postings | {self.bare_entries} "
            f"| {self.bare_seconds:.2f} | {self.bare_per_second:.1f} |",
        ]
        if self.per_second:
            lines.append(
                f"| ratio bare / consume_once | | | {self.bare_per_second / self.per_second:.2f} |"
            )
        return lines


def _entry(n: int) -> dict:
    return entry_to_doc(
        domain.journal(
            f"inv_{uuid.uuid4().hex}:issue",
            domain.ISSUE,
            "inv",
            "clinic",
            datetime.now(UTC),
            [("client_receivable:c", 9000 + n, "USD"), ("deferred_revenue:k", -9000 - n, "USD")],
        )
    )


async def ledger_bench(
    mongo_uri: str, *, entries: int, concurrency: int, max_seconds: float
) -> LedgerFigures:
    figures = LedgerFigures()
    db_name = f"bench_ledger_{uuid.uuid4().hex[:8]}"
    store = Store(mongo_uri, db_name)
    bare: AsyncMongoClient = AsyncMongoClient(mongo_uri, tz_aware=True)
    bare_col = bare[db_name]["bare_entries"]
    try:
        deadline = time.monotonic() + max_seconds
        todo = iter(range(entries))
        event_ids: list[str] = []

        async def idempotent() -> None:
            for n in todo:
                if time.monotonic() > deadline:
                    return
                doc = _entry(n)

                async def effect(session: Session, doc: dict = doc) -> None:
                    await store.db["entries"].insert_one(doc, session=session)

                event_id = str(uuid.uuid4())
                applied, _ = await consume_once(store, "bench", event_id, effect)
                assert applied
                event_ids.append(event_id)
                figures.entries += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(idempotent() for _ in range(concurrency)))
        figures.seconds = time.perf_counter() - t0

        # A few redeliveries: each is refused without a second entry.
        for event_id in event_ids[:10]:
            applied, _ = await consume_once(store, "bench", event_id, _never)
            figures.replays_ignored += not applied

        deadline = time.monotonic() + max_seconds
        todo = iter(range(entries))

        async def plain() -> None:
            for n in todo:
                if time.monotonic() > deadline:
                    return
                doc = _entry(n)

                async def write(session: Any, doc: dict = doc) -> None:
                    await bare_col.insert_one(doc, session=session)

                # PyMongo's own transaction helper (retries transient conflicts, as billing does).
                async with bare.start_session() as session:
                    await session.with_transaction(write)
                figures.bare_entries += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(plain() for _ in range(concurrency)))
        figures.bare_seconds = time.perf_counter() - t0
        return figures
    finally:
        await bare.drop_database(db_name)
        await bare.close()
        await store.close()


async def _never(session: Session) -> None:
    raise AssertionError("a replayed event must not apply")


async def _main(entries: int, concurrency: int) -> None:
    import tempfile
    from pathlib import Path

    from rapport_local import procs

    base = Path(tempfile.mkdtemp(prefix="rapport-ledger-bench-"))
    mongo = procs.start_secantus(procs.free_port(), ":memory:", log_path=base / "mongo.log")
    try:
        figures = await ledger_bench(
            mongo.url, entries=entries, concurrency=concurrency, max_seconds=60
        )
        print("\n".join(figures.report()))
    finally:
        mongo.stop()


if __name__ == "__main__":  # python -m tests.bench.ledger [entries] [concurrency]
    import sys

    asyncio.run(_main(int(sys.argv[1]) if len(sys.argv) > 1 else 300, 8))

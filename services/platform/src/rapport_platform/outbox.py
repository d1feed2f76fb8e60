"""Transactional outbox and idempotent consumption.

Producer side: `Outbox.add` writes the event record inside the caller's transaction, so the record
exists if and only if the business write committed. A relay publishes pending records (with
`Nats-Msg-Id` = event id, so a retried publish is dropped by JetStream), then marks them published.
Records survive restarts and NATS outages: whatever is still pending is published later. Replicas
share the work through a short lease on each record.

A hot path may publish its own record at once instead (`add(..., publish_after_commit=True)`, then
`publish_committed(event_id)` once the transaction committed): the record is written already
leased to its writer for OWN_LEASE, the writer publishes it from memory and marks it published
(one write instead of the relay's lease, mark, empty look and count). Should the writer fail or
die first, the lease runs out and the relay publishes it; a publish by both is dropped by
JetStream (same `Nats-Msg-Id`).

Consumer side: `consume_once` records the event id in the same transaction as the effect, so a
redelivered event changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from google.protobuf.message import Message
from opentelemetry.metrics import CallbackOptions, Observation
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from rapport_platform.bus import Bus
from rapport_platform.store import Session, Store
from rapport_platform.telemetry import inject, meter

log = logging.getLogger(__name__)
T = TypeVar("T")

OUTBOX = "outbox"
PROCESSED = "processed_events"
OWN_LEASE = timedelta(seconds=5)
FLUSH_TIMEOUT_S = 2.0
_OWN_MAX = 1024  # records added but not yet published by their writer (aborted attempts age out)
_backlog: dict[str, int] = {}


def _observe_backlog(_options: CallbackOptions) -> list[Observation]:
    return [Observation(n, {"service": svc}) for svc, n in list(_backlog.items())]


meter("rapport.outbox").create_observable_gauge(
    "rapport.outbox.pending", callbacks=[_observe_backlog], description="events not yet published"
)

INDEXES = {
    OUTBOX: [
        IndexModel([("pending", ASCENDING), ("lease_until", ASCENDING), ("created_at", ASCENDING)]),
        # Published records are kept a week for inspection, then the TTL sweep removes them.
        IndexModel([("published_at", ASCENDING)], expireAfterSeconds=7 * 24 * 3600),
    ],
    PROCESSED: [IndexModel([("at", ASCENDING)], expireAfterSeconds=30 * 24 * 3600)],
}


def _now() -> datetime:
    return datetime.now(UTC)


class Outbox:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        *,
        service: str,
        poll_interval: float = 1.0,
        lease_seconds: float = 15.0,
    ) -> None:
        self.store = store
        self.bus = bus
        self.service = service
        self._poll = poll_interval
        self._lease = timedelta(seconds=lease_seconds)
        self._wake = asyncio.Event()
        self.collection = store.db[OUTBOX]
        self._own: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._counted_at = float("-inf")

    async def add(
        self,
        session: Session,
        subject: str,
        message: Message,
        *,
        event_id: str | None = None,
        publish_after_commit: bool = False,
    ) -> str:
        """Record an event in the caller's transaction. The current trace context is kept with it
        so the eventual publish continues the same trace. `publish_after_commit`: the caller will
        call `publish_committed(event_id)` once its transaction committed."""
        event_id = event_id or str(uuid.uuid4())
        now = _now()
        doc: dict[str, Any] = {
            "_id": event_id,
            "subject": subject,
            "schema": message.DESCRIPTOR.full_name,
            "data": message.SerializeToString(),
            "trace": inject({}),
            "created_at": now,
            "lease_until": now + OWN_LEASE if publish_after_commit else now,
            "pending": True,
            "attempts": 0,
        }
        await self.collection.insert_one(doc, session=session)
        if publish_after_commit:
            self._own[event_id] = doc
            while len(self._own) > _OWN_MAX:
                self._own.popitem(last=False)
        return event_id

    def publish_committed(self, event_id: str) -> None:
        """The transaction that added `event_id` with publish_after_commit has committed: publish
        it now, in the background (the caller answers meanwhile)."""
        doc = self._own.pop(event_id, None)
        if doc is None:  # not ours (or aged out): the relay's job
            self.wake()
            return
        task = asyncio.create_task(self._publish_own(doc))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish_own(self, doc: dict[str, Any]) -> None:
        try:
            await self.bus.publish(
                doc["subject"],
                bytes(doc["data"]),
                event_id=doc["_id"],
                occurred_at=doc["created_at"],
                schema=doc.get("schema"),
                parent=doc.get("trace") or None,
            )
            await self.collection.update_one(
                {"_id": doc["_id"], "pending": True},
                {"$set": {"published_at": _now()}, "$unset": {"pending": "", "lease_until": ""}},
            )
        except Exception as exc:  # still pending: the relay publishes it once the lease ends
            log.warning("outbox publish after commit failed: %s; relay retries", type(exc).__name__)

    async def flush(self, timeout: float = FLUSH_TIMEOUT_S) -> None:
        """At a stop: let the publishes of records already committed finish (bounded), rather
        than leave them to another replica's relay once their lease ends (seconds later)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    def wake(self) -> None:
        """Tell the relay something committed; it publishes at once instead of at the next poll."""
        self._wake.set()

    async def relay_once(self) -> int:
        """Publish every pending record whose lease is free. Stops at the first publish failure
        (NATS is down) and releases that record for the next round."""
        published = 0
        while True:
            now = _now()
            record = await self.collection.find_one_and_update(
                {"pending": True, "lease_until": {"$lte": now}},
                {"$set": {"lease_until": now + self._lease}, "$inc": {"attempts": 1}},
                sort=[("created_at", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
            if record is None:
                break
            try:
                await self.bus.publish(
                    record["subject"],
                    bytes(record["data"]),
                    event_id=record["_id"],
                    occurred_at=record["created_at"],
                    schema=record.get("schema"),
                    parent=record.get("trace") or None,
                )
            except Exception as exc:
                log.warning("outbox publish failed: %s; will retry", type(exc).__name__)
                await self.collection.update_one(
                    {"_id": record["_id"]}, {"$set": {"lease_until": now}}
                )
                break
            await self.collection.update_one(
                {"_id": record["_id"]},
                {"$set": {"published_at": _now()}, "$unset": {"pending": "", "lease_until": ""}},
            )
            published += 1
        # The backlog gauge is read at each metrics export, not per event: count at most once per
        # poll interval (a woken relay runs once per commit; the count cost one command each).
        if time.monotonic() - self._counted_at >= self._poll:
            self._counted_at = time.monotonic()
            _backlog[self.service] = await self.pending_count()
        return published

    async def pending_count(self) -> int:
        return await self.collection.count_documents({"pending": True})

    async def run(self, stop: asyncio.Event) -> None:
        """The relay loop: on wake-up or every poll interval, until stop is set. A commit that
        woke it before the stop is still published (a stopping replica leaves no record to wait
        out its lease), then the loop ends."""
        while True:
            # Cleared before the round: a commit that wakes it meanwhile starts another round.
            self._wake.clear()
            try:
                await self.relay_once()
            except Exception as exc:  # Mongo down: try again next round
                log.warning("outbox relay round failed: %s", type(exc).__name__)
            if self._wake.is_set():
                continue
            if stop.is_set():
                return
            woken = asyncio.ensure_future(self._wake.wait())
            halt = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait(
                    {woken, halt}, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                woken.cancel()
                halt.cancel()
            if stop.is_set() and not self._wake.is_set():
                return


async def consume_many(
    store: Store, consumer: str, work: Sequence[tuple[str, Callable[[Session], Awaitable[Any]]]]
) -> None:
    """Several events' effects, in order, in one transaction: one insert of their records and
    one commit for all (a consumer catching up with a backlog). All or nothing: an event applied
    before (its record's duplicate key) or any effect's failure raises, and the caller applies
    them one at a time with consume_once."""
    if not work:
        return
    processed = store.db[PROCESSED]
    at = _now()

    async def tx(session: Session) -> None:
        await processed.insert_many(
            [{"_id": f"{consumer}:{event_id}", "at": at} for event_id, _ in work], session=session
        )
        for _, effect in work:
            await effect(session)

    await store.transaction(tx)


async def consume_once(
    store: Store, consumer: str, event_id: str, effect: Callable[[Session], Awaitable[T]]
) -> tuple[bool, T | None]:
    """Apply effect exactly once per (consumer, event id). Returns (applied, effect's result)."""
    key = f"{consumer}:{event_id}"
    processed = store.db[PROCESSED]

    async def tx(session: Session) -> tuple[bool, T | None]:
        # No read first: the unique _id refuses an event already applied (one command less per
        # event; a redelivery, the rare case, costs the aborted insert and the look below).
        await processed.insert_one({"_id": key, "at": _now()}, session=session)
        return True, await effect(session)

    try:
        return await store.transaction(tx)
    except DuplicateKeyError:
        # Applied before, or a concurrent delivery of the same event committed first. A duplicate
        # key raised by the effect itself leaves no record of the event: raised on.
        if await processed.find_one({"_id": key}):
            return False, None
        raise

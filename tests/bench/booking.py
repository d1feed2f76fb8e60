"""Booking through the gateway at several concurrencies, next to its floor measured in the same
run: the very documents one booking writes (the appointment, its time-cell claims, its reminders
and its outbox record), copied from a real booking and written by one bare PyMongo transaction,
at the same concurrency, on the same server.

Clients are made beforehand through the public API, enough that no client reaches the booking
limits (each books at most PER_CLIENT sessions); the clinic raises its own limits to match.
"""

from __future__ import annotations

import asyncio
import copy
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern
from rapport_platform.outbox import INDEXES as OUTBOX_INDEXES
from rapport_platform.outbox import OUTBOX
from rapport_scheduling.store import INDEXES

from tests.scheduling.helpers import Practice, on_grid

PER_CLIENT = 8  # bookings per client, under the platform's and the clinic's limits
CLINIC_TERMS = {"max_active_bookings_per_therapist": 200, "max_active_bookings_per_client": 200}


@dataclass
class Run:
    """Operations at one concurrency: counts, wall time and each success's latency."""

    label: str
    concurrency: int
    done: int = 0
    refused: int = 0  # 409 and other 4xx: none expected (distinct slots, limits raised)
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def percentile(self, p: int) -> float:
        xs = self.latencies
        if len(xs) < 2:
            return xs[0] if xs else 0.0
        return statistics.quantiles(xs, n=100, method="inclusive")[p - 1]


async def bounded(count: int, concurrency: int, max_seconds: float, op: Any, run: Run) -> Run:
    """`op(i)` for i in range(count) from `concurrency` workers; stops taking work after
    max_seconds. op returns True (done), False (refused) or raises (error)."""
    todo = iter(range(count))
    deadline = time.monotonic() + max_seconds

    async def worker() -> None:
        for i in todo:
            if time.monotonic() > deadline:
                return
            t0 = time.perf_counter()
            try:
                ok = await op(i)
            except Exception:
                run.errors += 1
                continue
            if ok:
                run.done += 1
                run.latencies.append(time.perf_counter() - t0)
            else:
                run.refused += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - t0
    return run


@dataclass
class Party:
    """One therapist and enough clients for a booking run (made before it is timed)."""

    therapist: Any
    clients: list[Any]
    per_worker: int


async def prepare(practice: Practice, *, bookings: int, concurrency: int) -> Party:
    therapist = await practice.therapist(
        availability=practice.availability(horizon_days=60, slot_step_minutes=60)
    )
    per_worker = -(-bookings // concurrency)
    # One spare each: workers share the slots, so one may book a little more than its share.
    clients_per_worker = -(-per_worker // PER_CLIENT) + 1
    clients: list[Any] = []
    wanted = concurrency * clients_per_worker
    while len(clients) < wanted:  # a few at a time: each sign-up hashes a password
        batch = min(8, wanted - len(clients))
        clients += await asyncio.gather(*(practice.client() for _ in range(batch)))
    return Party(therapist, clients, clients_per_worker)


async def book_through_gateway(
    http: httpx.AsyncClient,
    practice: Practice,
    *,
    bookings: int,
    concurrency: int,
    max_seconds: float,
    first: datetime | None = None,
    party: Party | None = None,
) -> tuple[Run, str]:
    """`bookings` distinct hour slots of one new therapist. Returns the run and the therapist id.
    Worker w books for its own clients only (no client books from two workers at once)."""
    party = party or await prepare(practice, bookings=bookings, concurrency=concurrency)
    therapist, clients, clients_per_worker = party.therapist, party.clients, party.per_worker
    first = first or on_grid(datetime.now(UTC) + timedelta(hours=2))
    starts = iter([first + timedelta(hours=i) for i in range(bookings)])
    run = Run("booking through the gateway", concurrency)
    deadline = time.monotonic() + max_seconds

    async def worker(w: int) -> None:
        mine = clients[w * clients_per_worker : (w + 1) * clients_per_worker]
        n = 0
        for start in starts:
            if time.monotonic() > deadline:
                return
            client = mine[min(n // PER_CLIENT, len(mine) - 1)]
            n += 1
            t0 = time.perf_counter()
            try:
                r = await practice.book(client, therapist, start)
            except httpx.HTTPError:
                run.errors += 1
                continue
            if r.status_code == 201:
                run.done += 1
                run.latencies.append(time.perf_counter() - t0)
            elif r.status_code < 500:
                run.refused += 1
            else:
                run.errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    run.seconds = time.perf_counter() - t0
    return run, therapist.user_id


async def booking_documents(mongo_uri: str, db_name: str, therapist_id: str) -> dict[str, Any]:
    """One real booking's documents, as scheduling wrote them: the templates of the floor."""
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        db = client[db_name]
        appt = await db["appointments"].find_one({"therapist_id": therapist_id})
        assert appt is not None, "no booking to copy"
        claims = await db["claims"].find({"appointment_id": appt["_id"]}).to_list()
        reminders = await db["reminders"].find({"appointment_id": appt["_id"]}).to_list()
        outbox = await db[OUTBOX].find_one({"subject": {"$regex": "booked$"}})
        if outbox is None:
            outbox = await db[OUTBOX].find_one({})
        return {"appointment": appt, "claims": claims, "reminders": reminders, "outbox": outbox}
    finally:
        await client.close()


async def bare_transactions(
    mongo_uri: str, templates: dict[str, Any], *, count: int, concurrency: int,
    max_seconds: float,
) -> Run:  # fmt: skip
    """The same documents, fresh ids, one transaction per booking (snapshot reads, majority
    writes, as the platform's transactions), with PyMongo's own retrying helper."""
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, tz_aware=True)
    db = client[f"bench_bare_{uuid.uuid4().hex[:8]}"]
    # The same indexes as scheduling's collections: every insert maintains them there too.
    indexes = {**OUTBOX_INDEXES, **INDEXES}
    for name in ("appointments", "claims", "reminders", OUTBOX):
        await db.create_collection(name)
        if indexes.get(name):
            await db[name].create_indexes(list(indexes[name]))
    run = Run("bare PyMongo transaction, same documents", concurrency)

    def fresh(i: int) -> dict[str, list[dict[str, Any]]]:
        appt_id = str(uuid.uuid4())
        shift = timedelta(hours=i)
        appt = copy.deepcopy(templates["appointment"])
        appt.update(_id=appt_id, start=appt["start"] + shift, end=appt["end"] + shift)
        claims = []
        for c in templates["claims"]:
            c = dict(c, appointment_id=appt_id, cell=c["cell"] + shift)
            c["_id"] = f"{c['therapist_id']}|{int(c['cell'].timestamp()) // 60:012d}"
            claims.append(c)
        reminders = [
            dict(r, _id=str(uuid.uuid4()), appointment_id=appt_id) for r in templates["reminders"]
        ]
        outbox = [dict(templates["outbox"], _id=str(uuid.uuid4()))] if templates["outbox"] else []
        return {"appointments": [appt], "claims": claims, "reminders": reminders, OUTBOX: outbox}

    async def op(i: int) -> bool:
        docs = fresh(i)

        async def write(session: Any) -> None:
            for name, items in docs.items():
                if len(items) == 1:
                    await db[name].insert_one(items[0], session=session)
                elif items:
                    await db[name].insert_many(items, session=session)

        async with client.start_session() as session:
            await session.with_transaction(
                write, read_concern=ReadConcern("snapshot"), write_concern=WriteConcern("majority")
            )
        return True

    try:
        return await bounded(count, concurrency, max_seconds, op, run)
    finally:
        await client.drop_database(db.name)
        await client.close()


def table(pairs: list[tuple[Run, Run]]) -> list[str]:
    """One row per concurrency: the service, its floor, and floor/service (how many bare
    transactions fit in one booking's time; 1.0 would mean the service adds nothing)."""
    ms = 1000
    lines = [
        "| concurrency | bookings | bookings/s | p50 | p99 | bare tx/s | bare p50 | bare p99 "
        "| ratio tx/s | ratio p50 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for svc, bare in pairs:
        ratio = bare.per_second / svc.per_second if svc.per_second else float("nan")
        p50 = svc.percentile(50) / bare.percentile(50) if bare.percentile(50) else float("nan")
        lines.append(
            f"| {svc.concurrency} | {svc.done} ok, {svc.refused} refused, {svc.errors} errors "
            f"| {svc.per_second:.1f} | {svc.percentile(50) * ms:.0f} ms "
            f"| {svc.percentile(99) * ms:.0f} ms | {bare.per_second:.1f} "
            f"| {bare.percentile(50) * ms:.1f} ms | {bare.percentile(99) * ms:.1f} ms "
            f"| {ratio:.2f} | {p50:.2f} |"
        )
    return lines

"""The claim store against a real SecantusDB: the database, not a Python check, refuses a double
booking; expired holds are reclaimable inside the booking's transaction."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import ASCENDING, IndexModel
from pymongo.errors import PyMongoError
from rapport_platform.outbox import INDEXES as OUTBOX_INDEXES
from rapport_platform.store import Store
from rapport_scheduling import domain
from rapport_scheduling.store import CLAIMS, INDEXES, RETIRED_INDEXES, SchedulingStore, SlotTaken

NOW = datetime(2030, 1, 7, 8, tzinfo=UTC)
POLICY = domain.CancellationPolicy(24, 0, "USD")


@pytest.fixture
async def repo(deps):
    store = Store(deps.mongo_uri, f"sched_store_{uuid.uuid4().hex[:10]}")
    await store.ensure_indexes({**OUTBOX_INDEXES, **INDEXES})
    yield SchedulingStore(store)
    await store.client.drop_database(store.db.name)
    await store.close()


def appt(start: datetime, minutes: int, *, buffer: int = 0, hold_until=None, therapist="t1"):
    return domain.Appointment(
        appointment_id=f"a-{random.getrandbits(48):x}",
        therapist_id=therapist,
        client_id="c1",
        clinic_id="k1",
        session_type="s",
        duration_minutes=minutes,
        modality="video",
        start=start,
        end=start + timedelta(minutes=minutes),
        buffer_before_minutes=buffer,
        buffer_after_minutes=buffer,
        price_minor=100,
        currency="USD",
        status=domain.HELD if hold_until else domain.CONFIRMED,
        created_at=NOW,
        policy=POLICY,
        hold_expires_at=hold_until,
    )


async def book(repo: SchedulingStore, a: domain.Appointment, now=NOW) -> bool:
    async def tx(session):
        await repo.claim(session, a, now)
        await repo.insert_appointment(session, a)

    try:
        await repo.store.transaction(tx)
        return True
    except SlotTaken:
        return False


async def test_two_transactions_that_both_checked_first_cannot_both_commit(repo):
    """Both read "free" before either writes (the check-then-insert race): the unique _id of the
    claimed cells still lets only one commit."""
    first = appt(NOW + timedelta(hours=2), 50)
    second = appt(NOW + timedelta(hours=2, minutes=30), 50)
    client = repo.store.client
    async with client.start_session() as s1, client.start_session() as s2:
        await s1.start_transaction()
        await s2.start_transaction()
        ids = [f"t1|{int(c.timestamp()) // 60:012d}" for c in second.claim_cells]
        assert await repo.claims.count_documents({"_id": {"$in": ids}}, session=s1) == 0
        assert await repo.claims.count_documents({"_id": {"$in": ids}}, session=s2) == 0
        await repo.claim(s1, first, NOW)
        with pytest.raises((PyMongoError, SlotTaken)):
            await repo.claim(s2, second, NOW)
            await s2.commit_transaction()
        await s1.commit_transaction()
    # Retried afresh, the second sees the first's claim and is refused.
    assert not await book(repo, second)
    owners = {d["appointment_id"] async for d in repo.claims.find({})}
    assert owners == {first.appointment_id}


async def test_many_concurrent_random_bookings_never_overlap(repo):
    rng = random.Random(7)
    candidates = [
        appt(
            NOW + timedelta(minutes=5 * rng.randrange(0, 96)),
            rng.choice([20, 30, 45, 50, 60, 90]),
            buffer=rng.choice([0, 5, 10]),
        )
        for _ in range(80)
    ]
    results = await asyncio.gather(*(book(repo, a) for a in candidates))
    winners = [a for a, ok in zip(candidates, results, strict=True) if ok]
    losers = [a for a, ok in zip(candidates, results, strict=True) if not ok]
    assert winners and losers

    def clash(a, b):
        return bool(set(a.claim_cells) & set(b.claim_cells))

    for a, b in itertools.combinations(winners, 2):
        assert not clash(a, b)
    # Nobody was refused for nothing: every loser collides with a winner.
    for loser in losers:
        assert any(clash(loser, w) for w in winners)
    assert await repo.appointments.count_documents({}) == len(winners)
    assert await repo.claims.count_documents({}) == sum(len(w.claim_cells) for w in winners)


async def test_expired_holds_are_ignored_and_reclaimed_live_ones_block(repo):
    start = NOW + timedelta(hours=3)
    hold = appt(start, 60, hold_until=NOW + timedelta(minutes=10))
    assert await book(repo, hold)
    # While the hold lives, it blocks.
    assert not await book(repo, appt(start + timedelta(minutes=30), 60))
    assert await repo.live_cells("t1", start, start + timedelta(hours=1), NOW)
    # At its expiry it blocks nothing: readers ignore it, a booking takes its cells over.
    later = NOW + timedelta(minutes=10)
    assert not await repo.live_cells("t1", start, start + timedelta(hours=1), later)
    taker = appt(start + timedelta(minutes=30), 60)
    assert await book(repo, taker, now=later)
    owners = {d["_id"]: d["appointment_id"] async for d in repo.claims.find({})}
    taken = [cid for cid, owner in owners.items() if owner == taker.appointment_id]
    assert len(taken) == 12

    # The hold keeps only its cells nobody wanted; confirming it now fails.
    async def confirm(session):
        return await repo.make_permanent(session, hold, NOW + timedelta(minutes=5))

    assert not await repo.store.transaction(confirm)


async def test_indexes_make_claims_unique_and_holds_expire(repo):
    info = await repo.claims.index_information()
    ttl = [i for i in info.values() if i.get("expireAfterSeconds") == 0]
    assert ttl and ttl[0]["key"] == [("expires_at", 1)]
    other = appt(NOW + timedelta(hours=5), 30, therapist="t2")
    same_time = appt(NOW + timedelta(hours=5), 30, therapist="t1")
    assert await book(repo, other) and await book(repo, same_time)  # per therapist


async def test_an_older_database_loses_the_retired_claim_indexes_at_start(deps):
    """A database an earlier version indexed (appointment_id, a TTL on every claim) is brought to
    today's indexes when the service starts: the retired ones cost every booking's ten writes."""
    store = Store(deps.mongo_uri, f"sched_store_{uuid.uuid4().hex[:10]}")
    try:
        old = [
            IndexModel([("appointment_id", ASCENDING)]),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
        ]
        await store.db[CLAIMS].create_indexes(old)
        await store.ensure_indexes(INDEXES, RETIRED_INDEXES)
        await store.ensure_indexes(INDEXES, RETIRED_INDEXES)  # a second start changes nothing
        names = {i["name"] async for i in await store.db[CLAIMS].list_indexes()}
        assert not names & set(RETIRED_INDEXES[CLAIMS])
        assert "holds_expire" in names
    finally:
        await store.client.drop_database(store.db.name)
        await store.close()

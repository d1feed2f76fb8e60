"""Scheduling, a real OS process, SIGKILLed in the middle of a stream of bookings and started
again. Clients retry with their Idempotency-Key while it is gone (503, Retry-After). Afterwards:
every booking that got a 201 exists, none exists twice, no outbox record is stranded, and billing
saw each booking once."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from tests.people import assert_problem
from tests.reliability.helpers import Intent, Stream
from tests.waiting import eventually

CLIENTS = 3
PER_CLIENT = 4


async def test_scheduling_sigkilled_mid_load_loses_nothing_and_doubles_nothing(
    rstack, rclinic, rtherapist
):
    clients = [await rclinic.client() for _ in range(CLIENTS)]
    intents = [Intent(c, rstack.next_start()) for _ in range(PER_CLIENT) for c in clients]
    stream = Stream(rclinic, rtherapist, intents, concurrency=4).start()
    try:
        await eventually(lambda: stream.answered >= 3, timeout=60, what="bookings before")
        await asyncio.to_thread(rstack.scheduling.kill)  # SIGKILL: no drain, no goodbye
        # While it is gone the gateway says so, in the shape clients retry on.
        extra = Intent(clients[0], rstack.next_start())
        r = await rclinic.book(extra.client, rtherapist, extra.start, key=extra.key)
        assert_problem(r, 503)
        assert r.headers["Retry-After"]
        async with httpx.AsyncClient(base_url=rstack.url) as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["scheduling"] is False
    finally:
        await asyncio.to_thread(rstack.scheduling.restart)
    # Back without anyone's help: once the gateway's readiness says so, a new client books.
    async with httpx.AsyncClient(base_url=rstack.url) as http:

        async def ready() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await eventually(ready, timeout=60, what="the gateway ready again")
    fresh = Intent(await rclinic.client(), rstack.next_start())
    r = await rclinic.book(fresh.client, rtherapist, fresh.start, key=fresh.key)
    assert r.status_code == 201, r.text
    fresh.appointment_id = r.json()["appointment_id"]
    stream.recovered.set()
    await asyncio.wait_for(stream.wait(), 180)
    assert not stream.unexpected(), [i.statuses for i in intents]

    # Every booking a client was told about exists, once, as its idempotency record says.
    done = [i for i in intents if i.booked] + [fresh]
    booked = {i.appointment_id for i in done}
    assert len(booked) == len(done)
    ids = [c.user_id for c in [*clients, fresh.client]]
    stored = [d async for d in rstack.sched_db["appointments"].find({"client_id": {"$in": ids}})]
    assert Counter(d["_id"] for d in stored) == Counter(booked)
    assert all(d["status"] == "confirmed" for d in stored)
    for i in [*intents, extra]:
        key = await rstack.sched_db["idempotency_keys"].find_one(
            {"_id": f"{i.client.user_id}|{i.key}"}
        )
        if i.booked:
            assert key is not None and key["appointment_id"] == i.appointment_id
        else:
            # Refused to the end (the outage, or a transaction the killed process left open,
            # which the database holds for its transaction lifetime): nothing half-written.
            assert key is None, i.statuses
    # One appointment per hour of the therapist: nothing double-booked by a retry.
    assert max(Counter(d["start"] for d in stored).values()) == 1

    # No stranded outbox record: a lease the killed process held expires and is published.
    async def outbox_drained() -> bool:
        return await rstack.sched_db["outbox"].count_documents({"pending": True}) == 0

    await eventually(outbox_drained, timeout=90, what="every outbox record published")

    async def invoiced() -> bool:
        got = Counter(
            [
                i["appointment_id"]
                for c in [*clients, fresh.client]
                for i in await rclinic.invoices(c)
            ]
        )
        assert got == Counter(booked), f"{sum(got.values())} invoices, {len(booked)} bookings"
        return True

    await eventually(invoiced, timeout=90, what="one invoice per booking")

"""NATS killed (SIGKILL) in the middle of a stream of bookings, then restarted: every booking is
still accepted, and afterwards every booked appointment's event reached billing exactly once:
one invoice per booking, one ledger entry per booking, and the clinic's ledger sums to zero."""

from __future__ import annotations

import asyncio
from collections import Counter

from rapport.events.v1.scheduling_pb2 import AppointmentBooked
from rapport_local import nats_auth
from rapport_platform.bus import Bus, stream_name

from tests.reliability.helpers import Intent, Stream, stream_messages
from tests.waiting import eventually

CLIENTS = 3
PER_CLIENT = 4
BOOKED = "rapport.scheduling.appointment_booked"


async def test_nats_killed_during_bookings_billing_sees_each_exactly_once(
    rstack, rclinic, rtherapist
):
    clients = [await rclinic.client() for _ in range(CLIENTS)]
    before = (await rclinic.ledger())["entries_checked"]
    intents = [Intent(c, rstack.next_start()) for _ in range(PER_CLIENT) for c in clients]
    stream = Stream(rclinic, rtherapist, intents, concurrency=3).start()
    try:
        await eventually(lambda: stream.answered >= 3, timeout=60, what="bookings before")
        await asyncio.to_thread(rstack.nats.kill)
        mark = stream.answered
        # Bookings go on while NATS is down: each write and its event commit together (outbox).
        await eventually(
            lambda: stream.answered >= min(mark + 3, len(intents)),
            timeout=60,
            what="bookings during the outage",
        )
        assert not await rstack.billing.server.probe_once()  # NOT_SERVING without its broker
    finally:
        await asyncio.to_thread(rstack.nats.restart)
    await asyncio.wait_for(stream.wait(), 120)
    assert not stream.unexpected(), [i.statuses for i in intents]
    assert all(i.booked for i in intents)
    booked = {i.appointment_id for i in intents}
    assert len(booked) == len(intents)

    async def invoiced() -> bool:
        ids = [inv["appointment_id"] for c in clients for inv in await rclinic.invoices(c)]
        assert sorted(ids) == sorted(booked), f"{len(ids)} invoices for {len(booked)} bookings"
        return True

    await eventually(invoiced, timeout=90, what="one invoice per booking")
    await eventually(rstack.billing.server.probe_once, timeout=60, what="billing SERVING again")

    async def ledger_settled() -> dict:
        ledger = await rclinic.ledger()
        assert ledger["entries_checked"] == before + len(intents), ledger["entries_checked"]
        return ledger

    ledger = await eventually(ledger_settled, timeout=60, what="one ledger entry per booking")
    assert ledger["balanced"] is True and ledger["unbalanced_entries"] == []
    assert all(t["amount_minor"] == 0 for t in ledger["totals"])
    # And nothing more arrives later: billing's consumer has every scheduling event settled.
    nats_ids = [
        d["_id"]
        async for d in rstack.billing_db["processed_events"].find({}, {"_id": 1})
        if d["_id"].startswith("billing-scheduling:")
    ]
    assert len(nats_ids) == len(set(nats_ids))
    invoices = [inv for c in clients for inv in await rclinic.invoices(c)]
    assert len(invoices) == len(intents)
    # On the wire too: each booking's event is on the stream once, however often the outbox
    # retried its publish across the outage (Nats-Msg-Id deduplication).
    bus = Bus(rstack.nats_url_for(nats_auth.TEST_USER), source="rapport/tests")
    await bus.start()
    try:
        await bus.wait_connected()
        msgs = await stream_messages(bus, stream_name("scheduling"), BOOKED)
    finally:
        await bus.close()
    on_wire = Counter(AppointmentBooked.FromString(m.data).appointment.appointment_id for m in msgs)
    assert {a: on_wire[a] for a in booked} == dict.fromkeys(booked, 1)

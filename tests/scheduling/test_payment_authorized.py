"""Scheduling consumes billing's payment_authorized: a paid hold is confirmed, once per event id
(three deliveries of one event confirm once and publish one appointment_confirmed); an
appointment that is no longer held is left alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from rapport.events.v1 import billing_pb2, scheduling_pb2
from rapport.types.v1.money_pb2 import Money
from rapport_platform.bus import Bus

from tests.billing.helpers import eventually
from tests.scheduling.helpers import on_grid

SUBJECT = "rapport.billing.payment_authorized"


async def _publish(stack, appointment_id: str, *, deliveries: int = 1) -> str:
    bus = Bus(stack.deps.nats_url, source="rapport/billing-test")
    await bus.start()
    await bus.wait_connected()
    event_id = str(uuid.uuid4())
    msg = billing_pb2.PaymentAuthorized(
        invoice_id="inv_test",
        appointment_id=appointment_id,
        payment_id="pi_test",
        provider="stripe",
        amount=Money(amount_minor=9000, currency="USD"),
    )
    try:
        await bus.publish(SUBJECT, msg, event_id=event_id)
        for n in range(1, deliveries):  # the same event again, past JetStream's dedup window
            await bus.js.publish(
                SUBJECT,
                msg.SerializeToString(),
                headers={"ce-id": event_id, "ce-type": SUBJECT, "Nats-Msg-Id": f"{event_id}:{n}"},
            )
    finally:
        await bus.close()
    return event_id


async def _confirmations(sched_db, appointment_id: str) -> int:
    count = 0
    async for doc in sched_db.outbox.find({"subject": "rapport.scheduling.appointment_confirmed"}):
        m = scheduling_pb2.AppointmentConfirmed()
        m.ParseFromString(bytes(doc["data"]))
        count += m.appointment.appointment_id == appointment_id
    return count


async def test_payment_authorized_confirms_the_hold_once(practice, stack, http, sched_db):
    therapist = await practice.therapist()
    client = await practice.client()
    start = on_grid(datetime.now(UTC) + timedelta(days=3))
    r = await practice.book(client, therapist, start, hold=True)
    assert r.status_code == 201 and r.json()["status"] == "held", r.text
    aid = r.json()["appointment_id"]
    await _publish(stack, aid, deliveries=3)

    async def status() -> str:
        r = await http.get(f"/v1/appointments/{aid}", headers=client.h)
        return r.json()["status"]

    assert await eventually(status, lambda s: s == "confirmed") == "confirmed"
    consumer = await eventually(
        lambda: sched_db.processed_events.count_documents(
            {"_id": {"$regex": "^scheduling-payment-authorized:"}}
        ),
        lambda n: n >= 1,
    )
    assert consumer >= 1
    assert await _confirmations(sched_db, aid) == 1


async def test_payment_authorized_for_a_cancelled_hold_changes_nothing(
    practice, stack, http, sched_db
):
    therapist = await practice.therapist()
    client = await practice.client()
    start = on_grid(datetime.now(UTC) + timedelta(days=3))
    r = await practice.book(client, therapist, start, hold=True)
    aid = r.json()["appointment_id"]
    r = await http.post(f"/v1/appointments/{aid}/cancel", headers=client.h, json={"reason": ""})
    assert r.status_code == 200, r.text
    event_id = await _publish(stack, aid)
    key = f"scheduling-payment-authorized:{event_id}"
    await eventually(
        lambda: sched_db.processed_events.find_one({"_id": key}), lambda d: d is not None
    )
    r = await http.get(f"/v1/appointments/{aid}", headers=client.h)
    assert r.json()["status"] == "cancelled"
    assert await _confirmations(sched_db, aid) == 0

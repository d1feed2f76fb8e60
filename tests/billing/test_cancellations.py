"""Cancellations and no-shows through the gateway and real events: an early cancellation voids
the invoice (a paid one is refunded), a late client cancellation or a no-show charges the
clinic's policy fee, shared like a session; a rescheduled appointment keeps its invoice; an event
for an appointment billing has never seen is parked, retried and then dead-lettered."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from rapport.events.v1 import envelope_pb2
from rapport.scheduling.v1 import scheduling_pb2 as spb
from rapport.scheduling.v1 import scheduling_pb2_grpc
from rapport_platform.bus import DLQ_STREAM
from rapport_platform.rpc import bearer, client_channel

from tests.billing.helpers import balance, eventually, session_ended
from tests.scheduling.conftest import ShiftedClock
from tests.scheduling.helpers import replica_settings, rfc3339, start_replica


async def test_early_cancellation_voids_and_refunds_what_was_paid(clinic, http):
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist, hours=96))["appointment_id"]
    inv = await clinic.wait_invoice(client, aid)
    # Paid in advance at the front desk.
    r = await http.post(
        f"/v1/invoices/{inv['invoice_id']}/payments",
        headers=clinic.admin.h,
        json={"amount_minor": 9000, "currency": "USD", "method": "cash"},
    )
    assert r.status_code == 201 and r.json()["status"] == "paid", r.text
    r = await http.post(f"/v1/appointments/{aid}/cancel", headers=client.h, json={"reason": ""})
    assert r.status_code == 200, r.text
    # Cash came in by hand, so it goes back by hand: owed until the admin records the refund.
    inv = await clinic.wait_invoice(client, aid, lambda i: i["status"] == "void")
    assert inv["refund_due"]["amount_minor"] == 9000
    ledger = await clinic.ledger()
    assert ledger["balanced"]
    assert balance(ledger, f"client_receivable:{client.user_id}") == -9000  # owed to the client
    assert balance(ledger, "payment_clearing:manual") == 9000
    refund = {"amount_minor": 5000, "currency": "USD", "method": "cash"}
    url = f"/v1/invoices/{inv['invoice_id']}/refunds"
    r = await http.post(url, headers=client.h, json=refund)
    assert r.status_code == 403, r.text  # only the clinic's admin
    r = await http.post(url, headers=clinic.admin.h, json={**refund, "amount_minor": 9001})
    assert r.status_code == 409, r.text  # more than is owed back
    r = await http.post(url, headers=clinic.admin.h, json=refund)
    assert r.status_code == 201 and r.json()["status"] == "void", r.text
    assert r.json()["refund_due"]["amount_minor"] == 4000
    r = await http.post(url, headers=clinic.admin.h, json={**refund, "amount_minor": 4000})
    assert r.status_code == 201 and r.json()["status"] == "refunded", r.text
    inv = r.json()
    assert inv["amount"]["amount_minor"] == 0 and not inv["earned"]
    assert inv["refund_due"]["amount_minor"] == 0
    ledger = await clinic.ledger()
    assert ledger["balanced"]
    assert balance(ledger, f"client_receivable:{client.user_id}") == 0
    assert balance(ledger, "payment_clearing:manual") == 0  # the money went back
    assert balance(ledger, f"therapist_payable:{therapist.user_id}") == 0


async def test_late_cancellation_charges_the_policy_fee_shared_like_a_session(clinic, http):
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist, hours=3))["appointment_id"]
    await clinic.wait_invoice(client, aid)
    r = await http.post(f"/v1/appointments/{aid}/cancel", headers=client.h, json={"reason": ""})
    assert r.status_code == 200, r.text
    inv = await clinic.wait_invoice(client, aid, lambda i: i["earned"])
    assert inv["amount"]["amount_minor"] == clinic.LATE_FEE == 3000
    assert inv["status"] == "open"  # owed, to be paid
    ledger = await clinic.ledger()
    assert ledger["balanced"]
    assert balance(ledger, f"therapist_payable:{therapist.user_id}") == -2400  # 3000-450-150
    assert balance(ledger, f"clinic_revenue:{clinic.admin.clinic_id}") == -450
    assert balance(ledger, f"client_receivable:{client.user_id}") == 3000
    # The admin records the fee paid by bank transfer; the receivable is cleared.
    r = await http.post(
        f"/v1/invoices/{inv['invoice_id']}/payments",
        headers=clinic.admin.h,
        json={"amount_minor": 3000, "currency": "USD", "method": "bank_transfer"},
    )
    assert r.status_code == 201 and r.json()["status"] == "paid", r.text
    ledger = await clinic.ledger()
    assert balance(ledger, f"client_receivable:{client.user_id}") == 0 and ledger["balanced"]


async def test_therapist_cancelling_late_voids_without_a_fee(clinic, http):
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist, hours=3))["appointment_id"]
    await clinic.wait_invoice(client, aid)
    r = await http.post(f"/v1/appointments/{aid}/cancel", headers=therapist.h, json={"reason": ""})
    assert r.status_code == 200, r.text
    inv = await clinic.wait_invoice(client, aid, lambda i: i["status"] == "void")
    assert not inv["earned"]


async def test_no_show_charges_the_clinic_no_show_fee(clinic, stack, http):
    await clinic.settings(no_show_fee_minor=5000)
    therapist = await clinic.therapist()
    client = await clinic.client()
    appt = await clinic.booked(client, therapist, hours=2)
    aid = appt["appointment_id"]
    await clinic.wait_invoice(client, aid)
    # A scheduling replica living three hours later marks the no-show (after the start).
    replica = await start_replica(
        replica_settings(stack, workers_enabled=False), ShiftedClock(timedelta(hours=3))
    )
    channel = client_channel(f"127.0.0.1:{replica.server.port}")
    try:
        stub = scheduling_pb2_grpc.SchedulingServiceStub(channel)
        await stub.MarkNoShow(
            spb.MarkNoShowRequest(appointment_id=aid), metadata=bearer(therapist.access)
        )
    finally:
        await channel.close()
        await replica.stop(0)
    inv = await clinic.wait_invoice(client, aid, lambda i: i["earned"])
    assert inv["amount"]["amount_minor"] == 5000
    assert [h["status"] for h in inv["history"]][-2:] == ["fee_only", "earned"]
    ledger = await clinic.ledger()
    assert ledger["balanced"]
    assert balance(ledger, f"clinic_revenue:{clinic.admin.clinic_id}") == -750
    assert balance(ledger, f"therapist_payable:{therapist.user_id}") == -4000  # 5000-750-250


async def test_rescheduled_appointment_keeps_its_invoice(clinic, http):
    therapist = await clinic.therapist()
    client = await clinic.client()
    appt = await clinic.booked(client, therapist, hours=72)
    aid = appt["appointment_id"]
    inv = await clinic.wait_invoice(client, aid)
    new_start = rfc3339(
        __import__("datetime").datetime.fromisoformat(appt["start"]) + timedelta(days=1)
    )
    r = await http.post(
        f"/v1/appointments/{aid}/reschedule", headers=client.h, json={"start": new_start}
    )
    assert r.status_code == 200, r.text
    moved = await clinic.wait_invoice(
        client, aid, lambda i: "rescheduled" in [h["status"] for h in i["history"]]
    )
    assert moved["invoice_id"] == inv["invoice_id"]
    assert moved["appointment_start"][:16] == new_start[:16]
    assert moved["amount"] == inv["amount"]
    assert len(await clinic.invoices(client)) == 1


async def test_sliding_scale_rate_sets_the_invoice(clinic, http):
    therapist = await clinic.therapist()
    client = await clinic.client()
    await clinic.settings(sliding_scale=[{"client_id": client.user_id, "rate_bps": 3333}])
    aid = (await clinic.booked(client, therapist))["appointment_id"]
    inv = await clinic.wait_invoice(client, aid)
    assert inv["list_price"]["amount_minor"] == 9000
    assert inv["amount"]["amount_minor"] == 3000  # 9000 * 33.33 % = 2999.7, rounded half up


async def test_events_for_an_unknown_appointment_are_parked_then_dead_lettered(
    stack, relay_bus, billing_db
):
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"
    event_id = await session_ended(relay_bus, ghost)
    js = relay_bus.js
    subject = "rapport.dlq.RAPPORT_SESSIONS.billing-session-ended"
    await relay_bus.ensure_stream(DLQ_STREAM, ["rapport.dlq.>"])
    sub = await js.pull_subscribe(subject, stream=DLQ_STREAM)

    async def dead_letters() -> list:
        try:
            msgs = await sub.fetch(10, timeout=0.5)
        except Exception:
            return []
        for m in msgs:
            await m.ack()
        return [m for m in msgs if (m.headers or {}).get("ce-id") == event_id]

    found: list = []

    async def probe() -> list:
        found.extend(await dead_letters())
        return found

    await eventually(probe, bool, timeout=60)
    dead = envelope_pb2.DeadLetter()
    dead.ParseFromString(found[0].data)
    assert dead.original_subject == "rapport.sessions.session_ended"
    assert dead.error_type == "UnknownAppointment"
    assert dead.deliveries == stack.billing.settings.park_max_deliver
    # Nothing was recorded for it: not processed, no invoice, no entry.
    assert (
        await billing_db.processed_events.find_one({"_id": f"billing-session-ended:{event_id}"})
        is None
    )
    assert await billing_db.invoices.find_one({"appointment_id": ghost}) is None
    await asyncio.sleep(0)

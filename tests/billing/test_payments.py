"""Payments beyond the happy path: a hold paid at the front desk is confirmed, a declined capture
publishes payment_failed and moves no money, invoices are scoped by role, refunds are published,
and the manual provider's authorization waits for an admin."""

from __future__ import annotations

from rapport.events.v1 import billing_pb2
from rapport_billing.providers import ManualProvider
from rapport_billing.service import Billing
from rapport_platform.auth import Principal

from tests.billing.helpers import billing_events, eventually, session_ended


async def _events(bus, name: str, cls, invoice_id: str) -> list:
    found = []
    for subject, data in await billing_events(bus):
        if subject == f"rapport.billing.{name}":
            m = cls()
            m.ParseFromString(data)
            if m.invoice_id == invoice_id:
                found.append(m)
    return found


async def test_a_hold_paid_at_the_front_desk_is_confirmed(clinic, http):
    await clinic.settings(payment_first=True)
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist, hold=True))["appointment_id"]
    inv = await clinic.wait_invoice(client, aid)
    r = await http.post(
        f"/v1/invoices/{inv['invoice_id']}/payments",
        headers=clinic.admin.h,
        json={"amount_minor": 9000, "currency": "USD", "method": "cash", "reference": "R-12"},
    )
    assert r.status_code == 201 and r.json()["status"] == "paid", r.text
    # How the money came and the admin's reference are kept beside it, with who recorded it.
    [record] = r.json()["by_hand"]
    assert {k: record[k] for k in ("kind", "amount", "method", "reference", "recorded_by")} == {
        "kind": "payment",
        "amount": {"amount_minor": 9000, "currency": "USD"},
        "method": "cash",
        "reference": "R-12",
        "recorded_by": clinic.admin.user_id,
    }
    assert (await clinic.invoice_of(client, aid))["by_hand"] == [record]
    appt = await eventually(
        lambda: clinic.appointment(client, aid), lambda a: a["status"] == "confirmed"
    )
    assert appt["status"] == "confirmed"


async def test_a_declined_capture_publishes_payment_failed_and_moves_no_money(
    clinic, stack, relay_bus, http
):
    stripe = stack.stripe
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist))["appointment_id"]
    inv = await clinic.wait_invoice(client, aid)
    r = await http.post(f"/v1/appointments/{aid}/payment", headers=client.h)
    pid = r.json()["payment_id"]
    stripe.authorize(pid)
    payload = stripe.event("payment_intent.amount_capturable_updated", pid)
    r = await http.post(
        "/v1/billing/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": stripe.sign(payload)},
    )
    assert r.json()["applied"] is True
    stripe.decline_capture = True
    try:
        await session_ended(relay_bus, aid)
        inv = await clinic.wait_invoice(
            client, aid, lambda i: "payment_failed" in [h["status"] for h in i["history"]]
        )
    finally:
        stripe.decline_capture = False
    assert inv["status"] == "authorized" and inv["paid"]["amount_minor"] == 0 and inv["earned"]
    failed = await eventually(
        lambda: _events(relay_bus, "payment_failed", billing_pb2.PaymentFailed, inv["invoice_id"]),
        bool,
    )
    assert failed[0].code == "card_declined" and failed[0].provider == "stripe"
    ledger = await clinic.ledger()
    assert ledger["balanced"]
    receivable = f"client_receivable:{client.user_id}"
    assert (
        next(b for b in ledger["balances"] if b["account"] == receivable)["balance"]["amount_minor"]
        == 9000
    )


async def test_invoices_are_scoped_by_role_and_refunds_published(clinic, relay_bus, http):
    therapist = await clinic.therapist()
    client = await clinic.client()
    stranger = await clinic.client()
    aid = (await clinic.booked(client, therapist, hours=96))["appointment_id"]
    inv = await clinic.wait_invoice(client, aid)
    assert await clinic.invoice_of(therapist, aid) is not None
    assert await clinic.invoice_of(clinic.admin, aid) is not None
    assert await clinic.invoice_of(stranger, aid) is None
    other = await type(clinic)(http, clinic.stack).open()
    assert await clinic.invoice_of(other.admin, aid) is None
    r = await http.get("/v1/invoices", headers=client.h, params={"limit": 0})
    assert r.status_code == 422
    r = await http.get("/v1/invoices", headers=client.h, params={"cursor": "not-a-cursor"})
    assert r.status_code == 422

    r = await http.post(
        f"/v1/invoices/{inv['invoice_id']}/payments",
        headers=clinic.admin.h,
        json={"amount_minor": 4000, "currency": "USD", "method": "insurance"},
    )
    assert r.status_code == 201 and r.json()["status"] == "open", r.text  # part paid
    r = await http.post(f"/v1/appointments/{aid}/cancel", headers=client.h, json={"reason": ""})
    assert r.status_code == 200
    await clinic.wait_invoice(client, aid, lambda i: i["refund_due"]["amount_minor"] == 4000)
    r = await http.post(
        f"/v1/invoices/{inv['invoice_id']}/refunds",
        headers=clinic.admin.h,
        json={"amount_minor": 4000, "currency": "USD", "method": "bank_transfer"},
    )
    assert r.status_code == 201 and r.json()["status"] == "refunded", r.text
    kept = [
        (x["kind"], x["amount"]["amount_minor"], x["method"], x["reference"])
        for x in r.json()["by_hand"]
    ]
    assert kept == [("payment", 4000, "insurance", None), ("refund", 4000, "bank_transfer", None)]
    refunds = await eventually(
        lambda: _events(relay_bus, "refund_issued", billing_pb2.RefundIssued, inv["invoice_id"]),
        bool,
    )
    assert [x.amount.amount_minor for x in refunds] == [4000]


async def test_the_manual_provider_authorization_waits_for_an_admin(clinic, stack):
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist))["appointment_id"]
    await clinic.wait_invoice(client, aid)
    app = stack.billing
    manual = Billing(
        app.store,
        app.outbox,
        ManualProvider(),
        app.settings,
        identity=None,
        clock=app.billing.clock,
    )
    who = Principal(client.user_id, "client", "", False, client.access)
    inv, payment_id, secret, status = await manual.start_payment(who, aid)
    assert (payment_id, secret, status) == (f"manual:{inv.invoice_id}", "", "pending")
    assert inv.status == "open"

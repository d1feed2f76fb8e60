"""Payment secured at booking, end to end through the gateway and real NATS events:
hold -> authorization (Stripe double, signed webhook) -> scheduling confirms -> the relay's
session_ended (delivered three times) -> capture -> split -> payout statement that reconciles ->
its payout from the clinic's Connect account."""

from __future__ import annotations

import json
from datetime import timedelta

from rapport.events.v1 import billing_pb2
from rapport_billing.service import Billing
from rapport_platform.auth import Principal

from tests.billing.helpers import balance, billing_events, eventually, session_ended
from tests.billing.stripe_double import CONNECT_WEBHOOK_SECRET
from tests.edge.test_pages_offline import self_contained


async def test_booking_to_payout_with_payment_secured_at_booking(clinic, stack, relay_bus, http):
    stripe = stack.stripe
    assert (await clinic.settings(payment_first=True))["payment_first"] is True
    therapist = await clinic.therapist()
    client = await clinic.client()

    appt = await clinic.booked(client, therapist, hold=True)
    assert appt["status"] == "held"
    aid = appt["appointment_id"]
    invoice = await clinic.wait_invoice(client, aid)
    assert invoice["status"] == "open"
    assert invoice["amount"] == {"amount_minor": 9000, "currency": "USD"}

    # The client starts paying: a PaymentIntent with manual capture, a destination charge.
    r = await http.post(f"/v1/appointments/{aid}/payment", headers=client.h)
    assert r.status_code == 201, r.text
    pay = r.json()
    assert pay["provider"] == "stripe" and pay["payment_status"] == "pending"
    assert pay["client_secret"].startswith(pay["payment_id"])
    sent = [q for q in stripe.requests if q.path == "/v1/payment_intents"][-1]
    assert sent.idempotency_key == f"{invoice['invoice_id']}:authorize:1"
    assert sent.params["capture_method"] == "manual"
    assert sent.params["amount"] == "9000" and sent.params["currency"] == "usd"
    assert sent.params["transfer_data"] == {"destination": "acct_clinicdouble"}
    assert sent.params["application_fee_amount"] == "450"  # 5 % platform fee
    # No PHI to the processor: an opaque invoice id and a generic descriptor only.
    assert sent.params["metadata"] == {"invoice_id": invoice["invoice_id"]}
    assert sent.params["statement_descriptor_suffix"] == "RAPPORT SESSION"
    for secret in (client.email, therapist.email, "Casey", "Jordan", "talk-50"):
        assert secret not in sent.body

    # The client completes it with Stripe.js; Stripe tells billing (signed webhook).
    stripe.authorize(pay["payment_id"])
    payload = stripe.event("payment_intent.amount_capturable_updated", pay["payment_id"])
    hook = {"Stripe-Signature": stripe.sign(payload), "content-type": "application/json"}
    r = await http.post("/v1/billing/stripe/webhook", content=payload, headers=hook)
    assert r.status_code == 200 and r.json()["applied"] is True, r.text
    # The same webhook replayed (same event id, still validly signed) changes nothing.
    r = await http.post("/v1/billing/stripe/webhook", content=payload, headers=hook)
    assert r.status_code == 200 and r.json()["applied"] is False

    # billing published payment_authorized; scheduling confirmed the hold.
    confirmed = await eventually(
        lambda: clinic.appointment(client, aid), lambda a: a["status"] == "confirmed"
    )
    assert confirmed["appointment_id"] == aid
    # Billing hears of the confirmation on scheduling's stream, in its own time: wait for it, or
    # the session_ended below (another stream, no order between them) may be applied first.
    invoice = await clinic.wait_invoice(
        client,
        aid,
        lambda i: (
            i["status"] == "authorized" and "confirmed" in [h["status"] for h in i["history"]]
        ),
    )

    # The session happens; the relay reports it (three deliveries of one event).
    await session_ended(relay_bus, aid, minutes=50, deliveries=3)
    invoice = await clinic.wait_invoice(
        client, aid, lambda i: i["status"] == "paid" and i["earned"]
    )
    assert invoice["paid"]["amount_minor"] == 9000
    captures = [q for q in stripe.requests if q.path.endswith(f"{pay['payment_id']}/capture")]
    assert [q.idempotency_key for q in captures] == [f"{invoice['invoice_id']}:capture:1"]
    assert captures[0].params == {"amount_to_capture": "9000"}
    history = [h["status"] for h in invoice["history"]]
    assert history == ["open", "authorized", "confirmed", "earned", "paid"]

    # Scheduling also reports appointment_completed: still one earn, one capture.
    await eventually(lambda: clinic.appointment(client, aid), lambda a: a["status"] == "completed")

    # The therapist's statement for the month the session was earned reconciles to the cent.
    earned_at = next(h["at"] for h in invoice["history"] if h["status"] == "earned")
    period = earned_at[:7]
    r = await http.get(
        f"/v1/therapists/{therapist.user_id}/payouts",
        headers=therapist.h,
        params={"period": period},
    )
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["sessions"] == 1
    assert s["gross"]["amount_minor"] == 9000
    assert s["commission"]["amount_minor"] == 1350  # 15 %
    assert s["fees"]["amount_minor"] == 450  # 5 % platform
    assert s["net"]["amount_minor"] == 7200
    assert s["ledger_net"] == s["net"] and s["reconciled"] is True

    ledger = await clinic.ledger()
    assert ledger["balanced"] is True and ledger["unbalanced_entries"] == []
    assert all(t["amount_minor"] == 0 for t in ledger["totals"])
    # issue, earn, payment: the thrice-delivered event and the completed event posted once.
    assert ledger["entries_checked"] == 3
    assert balance(ledger, f"client_receivable:{client.user_id}") == 0
    assert balance(ledger, f"therapist_payable:{therapist.user_id}") == -7200
    assert balance(ledger, f"clinic_revenue:{clinic.admin.clinic_id}") == -1350
    assert balance(ledger, "payment_clearing:stripe") == 9000

    # The superbill: CPT from connected minutes, modifier 95 for video, the verified licence.
    r = await http.put(
        f"/v1/appointments/{aid}/diagnosis",
        headers=therapist.h,
        json={"diagnosis_code": "F41.1"},
    )
    assert r.status_code == 200, r.text
    r = await http.get(f"/v1/appointments/{aid}/superbill", headers=client.h)
    assert r.status_code == 200, r.text
    bill = r.json()
    assert (bill["cpt_code"], bill["modifier"], bill["connected_minutes"]) == ("90834", "95", 50)
    assert bill["diagnosis_code"] == "F41.1"
    assert bill["licenses"] == [
        {"kind": "psychologist", "jurisdiction": "US-CA", "number": "PSY-1"}
    ]
    assert bill["charge"]["amount_minor"] == 9000 and bill["paid"]["amount_minor"] == 9000
    r = await http.get(f"/v1/appointments/{aid}/superbill.html", headers=client.h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "90834-95" in r.text and "F41.1" in r.text and "PSY-1" in r.text
    assert self_contained(r)  # nothing from another origin, a policy that allows none
    json.dumps(bill)  # plain JSON

    # What billing published for this invoice, through its outbox, in order.
    iid = invoice["invoice_id"]

    async def published() -> list[str]:
        names = []
        for subject, data in await billing_events(relay_bus):
            name = subject.rsplit(".", 1)[-1]
            cls = {
                "invoice_issued": billing_pb2.InvoiceIssued,
                "payment_authorized": billing_pb2.PaymentAuthorized,
                "payment_captured": billing_pb2.PaymentCaptured,
            }.get(name)
            if cls is not None:
                m = cls()
                m.ParseFromString(data)
                if m.invoice_id == iid:
                    names.append(name)
        return names

    names = await eventually(published, lambda n: "payment_captured" in n)
    assert names == ["invoice_issued", "payment_authorized", "payment_captured"]

    # Once the month is over, its reconciled statement publishes payout_ready, once.
    app = stack.billing
    next_month = Billing(
        app.store,
        app.outbox,
        app.billing.provider,
        app.settings,
        identity=None,
        clock=lambda: app.billing.clock() + timedelta(days=40),
    )
    me = Principal(therapist.user_id, "therapist", clinic.admin.clinic_id, False, therapist.access)
    for _ in range(2):
        statement = await next_month.payout_statement(me, therapist.user_id, period)
        assert statement.reconciled and statement.net == 7200

    async def payouts() -> list[billing_pb2.PayoutReady]:
        found = []
        for subject, data in await billing_events(relay_bus):
            if subject == "rapport.billing.payout_ready":
                m = billing_pb2.PayoutReady()
                m.ParseFromString(data)
                if m.therapist_id == therapist.user_id:
                    found.append(m)
        return found

    ready = await eventually(payouts, bool)
    assert len(ready) == 1 and ready[0].net.amount_minor == 7200 and ready[0].period == period
    outbox = app.store.db["outbox"]
    assert await outbox.count_documents({"subject": "rapport.billing.payout_ready"}) == 1

    # The payout: from the clinic's Connect account (where its destination charges went) to
    # its bank, once, with a key derived from the statement; posted payable -> cash.
    assert await next_month.run_payouts_once() == 1
    assert await next_month.run_payouts_once() == 0
    payout_id = f"{therapist.user_id}:{period}"
    (sent,) = [
        q
        for q in stripe.requests
        if q.path == "/v1/payouts" and q.params["metadata"] == {"payout_id": payout_id}
    ]
    assert sent.stripe_account == "acct_clinicdouble"
    assert sent.idempotency_key == f"payout:{payout_id}"
    assert (sent.params["amount"], sent.params["currency"]) == ("7200", "usd")
    r = await http.get(
        f"/v1/therapists/{therapist.user_id}/payouts",
        headers=therapist.h,
        params={"period": period},
    )
    s = r.json()
    assert s["payout_status"] == "in_transit" and s["payout_reference"].startswith("po_")
    assert s["payout_reference"] in stripe.payouts
    assert s["reconciled"] is True and s["ledger_net"]["amount_minor"] == 7200
    ledger = await clinic.ledger()
    assert ledger["balanced"] is True and ledger["entries_checked"] == 4
    assert balance(ledger, f"therapist_payable:{therapist.user_id}") == 0
    assert balance(ledger, "payment_clearing:stripe") == 9000 - 7200
    # The connected account's bank took it: Stripe's payout.paid, from the Connect endpoint
    # (signed with that endpoint's own secret).
    stripe.payouts[s["payout_reference"]]["status"] = "paid"
    payload = stripe.event("payout.paid", s["payout_reference"])
    r = await http.post(
        "/v1/billing/stripe/webhook",
        content=payload,
        headers={
            "Stripe-Signature": stripe.sign(payload, CONNECT_WEBHOOK_SECRET),
            "content-type": "application/json",
        },
    )
    assert r.status_code == 200 and r.json()["applied"] is True, r.text
    r = await http.get(
        f"/v1/therapists/{therapist.user_id}/payouts",
        headers=therapist.h,
        params={"period": period},
    )
    assert r.json()["payout_status"] == "paid" and r.json()["reconciled"] is True


async def test_a_lapsed_hold_voids_its_authorization(clinic, stack, http):
    stripe = stack.stripe
    await clinic.settings(payment_first=True)
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist, hold=True))["appointment_id"]
    await clinic.wait_invoice(client, aid)
    r = await http.post(f"/v1/appointments/{aid}/payment", headers=client.h)
    assert r.status_code == 201, r.text
    pid = r.json()["payment_id"]
    # Billing a while after the hold's expiry (a second use-case instance with a later clock).
    app = stack.billing
    later = Billing(
        app.store,
        app.outbox,
        app.billing.provider,
        app.settings,
        identity=None,
        clock=lambda: app.billing.clock() + timedelta(hours=2),
    )
    assert await later.run_actions_once() >= 1
    invoice = await clinic.wait_invoice(client, aid, lambda i: i["status"] == "void")
    assert invoice["amount"]["amount_minor"] == 0
    # The (pending) authorization is released at Stripe.
    await later.run_actions_once()
    assert stripe.intents[pid]["status"] == "canceled"
    ledger = await clinic.ledger()
    assert ledger["balanced"] and balance(ledger, f"client_receivable:{client.user_id}") == 0

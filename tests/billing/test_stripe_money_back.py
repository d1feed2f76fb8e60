"""Money going back and onward through Stripe, driven through the gateway with the Stripe HTTP
double: a refund is requested from Stripe and posted only when Stripe confirms it (a failed one
is returned by hand and recorded by an admin); a cancelled PaymentIntent reopens its invoice; a
clinic links its own Connect account and its charges go there; a payout that fails at the bank
is owed again."""

from __future__ import annotations

import uuid
from datetime import timedelta

from rapport.events.v1 import billing_pb2
from rapport_billing.service import Billing
from rapport_platform.auth import Principal

from tests.billing.helpers import balance, billing_events, eventually, session_ended
from tests.billing.stripe_double import CONNECT_WEBHOOK_SECRET, WEBHOOK_SECRET
from tests.people import assert_problem

WEBHOOK = "/v1/billing/stripe/webhook"


async def _events(bus, name: str, cls, invoice_id: str) -> list:
    found = []
    for subject, data in await billing_events(bus):
        if subject == f"rapport.billing.{name}":
            m = cls()
            m.ParseFromString(data)
            if m.invoice_id == invoice_id:
                found.append(m)
    return found


async def _hook(http, stripe, kind: str, obj_id: str, secret: str = WEBHOOK_SECRET) -> dict:
    payload = stripe.event(kind, obj_id)
    r = await http.post(
        WEBHOOK,
        content=payload,
        headers={
            "Stripe-Signature": stripe.sign(payload, secret),
            "content-type": "application/json",
        },
    )
    assert r.status_code == 200, r.text
    return {"applied": r.json()["applied"], "payload": payload}


async def _paid_through_stripe(clinic, stack, http, client, therapist) -> tuple[str, str, dict]:
    """Booked four days ahead and paid by card (the PaymentIntent succeeded)."""
    stripe = stack.stripe
    aid = (await clinic.booked(client, therapist, hours=96))["appointment_id"]
    await clinic.wait_invoice(client, aid)
    r = await http.post(f"/v1/appointments/{aid}/payment", headers=client.h)
    assert r.status_code == 201, r.text
    pid = r.json()["payment_id"]
    intent = stripe.intents[pid]
    intent.update(status="succeeded", amount_received=intent["amount"], amount_capturable=0)
    assert (await _hook(http, stripe, "payment_intent.succeeded", pid))["applied"] is True
    inv = await clinic.wait_invoice(client, aid, lambda i: i["status"] == "paid")
    return aid, pid, inv


async def test_a_refund_goes_through_stripe_and_is_posted_when_stripe_confirms_it(
    clinic, stack, relay_bus, http
):
    stripe = stack.stripe
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid, pid, inv = await _paid_through_stripe(clinic, stack, http, client, therapist)
    iid = inv["invoice_id"]

    r = await http.post(f"/v1/appointments/{aid}/cancel", headers=client.h, json={"reason": ""})
    assert r.status_code == 200, r.text
    # Void at once; the 9000 are owed back until Stripe says they are back.
    inv = await clinic.wait_invoice(client, aid, lambda i: i["status"] == "void")
    assert inv["refund_due"]["amount_minor"] == 9000

    def refund_requests():
        return [q for q in stripe.requests if q.path == "/v1/refunds" and q.params.get("metadata")]

    sent = await eventually(
        _async(lambda: [q for q in refund_requests() if q.params["metadata"]["invoice_id"] == iid]),
        bool,
    )
    assert len(sent) == 1
    assert sent[0].idempotency_key == f"{iid}:refund:1"  # invoice and payment attempt
    assert sent[0].params["payment_intent"] == pid and sent[0].params["amount"] == "9000"
    # Destination charge: the clinic's transfer and the platform's fee are given back too.
    assert sent[0].params["reverse_transfer"] == "true"
    assert sent[0].params["refund_application_fee"] == "true"
    assert sent[0].params["metadata"] == {"invoice_id": iid}  # no PHI to the processor
    inv = await clinic.wait_invoice(
        client, aid, lambda i: "refund_requested" in [h["status"] for h in i["history"]]
    )
    # Requested is not returned: nothing posted yet, no refund_issued.
    assert inv["status"] == "void" and inv["refund_due"]["amount_minor"] == 9000
    ledger = await clinic.ledger()
    assert balance(ledger, f"client_receivable:{client.user_id}") == -9000
    assert balance(ledger, "payment_clearing:stripe") == 9000
    assert await _events(relay_bus, "refund_issued", billing_pb2.RefundIssued, iid) == []

    (rid,) = [k for k, v in stripe.refunds.items() if v["metadata"]["invoice_id"] == iid]
    stripe.refunds[rid]["status"] = "succeeded"
    hook = await _hook(http, stripe, "refund.updated", rid)
    assert hook["applied"] is True
    r = await http.post(
        WEBHOOK,
        content=hook["payload"],
        headers={"Stripe-Signature": stripe.sign(hook["payload"])},
    )
    assert r.json()["applied"] is False  # replayed: nothing more

    inv = await clinic.wait_invoice(client, aid, lambda i: i["status"] == "refunded")
    assert inv["refund_due"]["amount_minor"] == 0
    ledger = await clinic.ledger()
    assert ledger["balanced"]
    assert balance(ledger, f"client_receivable:{client.user_id}") == 0
    assert balance(ledger, "payment_clearing:stripe") == 0
    refunds = await eventually(
        lambda: _events(relay_bus, "refund_issued", billing_pb2.RefundIssued, iid), bool
    )
    assert [x.amount.amount_minor for x in refunds] == [9000]
    # The worker asked Stripe once, whatever happened since.
    assert len([q for q in refund_requests() if q.params["metadata"]["invoice_id"] == iid]) == 1


async def test_a_refund_stripe_cannot_make_is_returned_by_hand(clinic, stack, http):
    stripe = stack.stripe
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid, _, inv = await _paid_through_stripe(clinic, stack, http, client, therapist)
    iid = inv["invoice_id"]
    r = await http.post(f"/v1/appointments/{aid}/cancel", headers=client.h, json={"reason": ""})
    assert r.status_code == 200, r.text
    await clinic.wait_invoice(
        client, aid, lambda i: "refund_requested" in [h["status"] for h in i["history"]]
    )
    manual = {"amount_minor": 9000, "currency": "USD", "method": "bank_transfer"}
    # While Stripe is refunding, an admin cannot record it by hand too.
    r = await http.post(f"/v1/invoices/{iid}/refunds", headers=clinic.admin.h, json=manual)
    assert r.status_code == 409, r.text

    (rid,) = [k for k, v in stripe.refunds.items() if v["metadata"]["invoice_id"] == iid]
    stripe.refunds[rid]["status"] = "failed"
    assert (await _hook(http, stripe, "refund.failed", rid))["applied"] is True
    inv = await clinic.wait_invoice(
        client, aid, lambda i: "refund_failed" in [h["status"] for h in i["history"]]
    )
    assert inv["status"] == "void" and inv["refund_due"]["amount_minor"] == 9000
    r = await http.post(f"/v1/invoices/{iid}/refunds", headers=clinic.admin.h, json=manual)
    assert r.status_code == 201 and r.json()["status"] == "refunded", r.text
    ledger = await clinic.ledger()
    assert ledger["balanced"]
    assert balance(ledger, f"client_receivable:{client.user_id}") == 0


async def test_a_cancelled_payment_intent_reopens_the_invoice(clinic, stack, relay_bus, http):
    stripe = stack.stripe
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist))["appointment_id"]
    await clinic.wait_invoice(client, aid)
    r = await http.post(f"/v1/appointments/{aid}/payment", headers=client.h)
    pid = r.json()["payment_id"]
    stripe.authorize(pid)
    assert (await _hook(http, stripe, "payment_intent.amount_capturable_updated", pid))["applied"]
    inv = await clinic.wait_invoice(client, aid, lambda i: i["status"] == "authorized")

    # The authorization lapsed at Stripe (or the client cancelled it): nothing is held now.
    stripe.intents[pid].update(status="canceled", amount_capturable=0)
    hook = await _hook(http, stripe, "payment_intent.canceled", pid)
    assert hook["applied"] is True
    inv = await clinic.wait_invoice(client, aid, lambda i: i["status"] == "open")
    assert inv["history"][-1]["status"] == "authorization_canceled"
    failed = await eventually(
        lambda: _events(relay_bus, "payment_failed", billing_pb2.PaymentFailed, inv["invoice_id"]),
        bool,
    )
    assert [f.code for f in failed] == ["canceled"]
    # Told again (a new event about the same cancellation): nothing more changes.
    assert (await _hook(http, stripe, "payment_intent.canceled", pid))["applied"] is False
    # The client may pay again: a new attempt, with its own idempotency key.
    r = await http.post(f"/v1/appointments/{aid}/payment", headers=client.h)
    assert r.status_code == 201, r.text
    sent = [q for q in stripe.requests if q.path == "/v1/payment_intents"][-1]
    assert sent.idempotency_key == f"{inv['invoice_id']}:authorize:2"
    ledger = await clinic.ledger()
    assert ledger["balanced"] and balance(ledger, f"client_receivable:{client.user_id}") == 9000


async def test_a_clinic_links_its_own_connect_account_and_its_charges_go_there(clinic, stack, http):
    stripe = stack.stripe
    cid = clinic.admin.clinic_id
    url = f"/v1/clinics/{cid}/stripe-account"
    therapist = await clinic.therapist()
    client = await clinic.client()
    own = f"acct_{uuid.uuid4().hex[:16]}"

    r = await http.put(url, headers=clinic.admin.h, json={"account_id": "not-an-account"})
    assert r.status_code == 422, r.text
    r = await http.put(url, headers=clinic.admin.h, json={"account_id": own})
    assert r.status_code == 409, r.text  # Stripe knows no such connected account
    r = await http.put(url, headers=client.h, json={"account_id": own})
    assert r.status_code == 403, r.text
    other = await type(clinic)(http, clinic.stack).open()
    r = await http.put(url, headers=other.admin.h, json={"account_id": own})
    assert r.status_code == 403, r.text
    r = await http.get(f"/v1/clinics/{cid}/billing", headers=clinic.admin.h)
    assert r.json()["stripe_account"] is None  # nothing changed

    stripe.accounts.add(own)  # onboarded in Stripe
    r = await http.put(url, headers=clinic.admin.h, json={"account_id": own})
    assert r.status_code == 200 and r.json()["stripe_account"] == own, r.text
    r = await http.get(f"/v1/clinics/{cid}/billing", headers=clinic.admin.h)
    assert r.json()["stripe_account"] == own

    aid = (await clinic.booked(client, therapist))["appointment_id"]
    await clinic.wait_invoice(client, aid)
    r = await http.post(f"/v1/appointments/{aid}/payment", headers=client.h)
    assert r.status_code == 201, r.text
    sent = [q for q in stripe.requests if q.path == "/v1/payment_intents"][-1]
    assert sent.params["transfer_data"] == {"destination": own}
    assert sent.params["application_fee_amount"] == "450"

    # A clinic that linked none still uses the deployment's account.
    t2 = await other.therapist()
    c2 = await other.client()
    aid2 = (await other.booked(c2, t2))["appointment_id"]
    await other.wait_invoice(c2, aid2)
    r = await http.post(f"/v1/appointments/{aid2}/payment", headers=c2.h)
    assert r.status_code == 201, r.text
    sent = [q for q in stripe.requests if q.path == "/v1/payment_intents"][-1]
    assert sent.params["transfer_data"] == {"destination": "acct_clinicdouble"}


async def test_a_payout_that_fails_at_the_bank_is_owed_again_until_the_admin_sends_it_again(
    clinic, stack, relay_bus, http
):
    stripe = stack.stripe
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist))["appointment_id"]
    await clinic.wait_invoice(client, aid)
    await session_ended(relay_bus, aid)
    inv = await clinic.wait_invoice(client, aid, lambda i: i["earned"])
    period = next(h["at"] for h in inv["history"] if h["status"] == "earned")[:7]
    # The month is over (billing's use cases with a later clock) and its statement reconciles.
    app = stack.billing
    later = Billing(
        app.store,
        app.outbox,
        app.billing.provider,
        app.settings,
        identity=None,
        clock=lambda: app.billing.clock() + timedelta(days=40),
    )
    me = Principal(therapist.user_id, "therapist", clinic.admin.clinic_id, False, therapist.access)
    assert (await later.payout_statement(me, therapist.user_id, period)).reconciled
    assert await later.run_payouts_once() == 1
    url = f"/v1/therapists/{therapist.user_id}/payouts"
    s = (await http.get(url, headers=therapist.h, params={"period": period})).json()
    assert s["payout_status"] == "in_transit"
    ledger = await clinic.ledger()
    assert balance(ledger, f"therapist_payable:{therapist.user_id}") == 0

    stripe.payouts[s["payout_reference"]]["status"] = "failed"
    # From the Connect endpoint, signed with its own secret.
    hook = await _hook(http, stripe, "payout.failed", s["payout_reference"], CONNECT_WEBHOOK_SECRET)
    assert hook["applied"] is True
    signed = stripe.sign(hook["payload"], CONNECT_WEBHOOK_SECRET)
    r = await http.post(WEBHOOK, content=hook["payload"], headers={"Stripe-Signature": signed})
    assert r.json()["applied"] is False  # replayed
    s = (await http.get(url, headers=therapist.h, params={"period": period})).json()
    assert s["payout_status"] == "failed"
    assert s["reconciled"] is True and s["ledger_net"]["amount_minor"] == s["net"]["amount_minor"]
    ledger = await clinic.ledger()
    assert ledger["balanced"]
    # Reversed by a new entry: the therapist is owed the net again.
    assert balance(ledger, f"therapist_payable:{therapist.user_id}") == -s["net"]["amount_minor"]

    # The bank details put right, the clinic's admin sends it again: a new attempt with a key
    # of its own (the failed payout's key would only replay the failure). Nobody else may.
    retry = f"{url}/{period}/retry"
    failed_ref = s["payout_reference"]
    assert_problem(await http.post(retry), 401)
    assert_problem(await http.post(retry, headers=therapist.h), 403)
    other = await type(clinic)(http, clinic.stack).open()
    assert_problem(await http.post(retry, headers=other.admin.h), 403)
    assert_problem(await http.post(f"{url}/2026-13x/retry", headers=clinic.admin.h), 422)
    r = await http.post(retry, headers=clinic.admin.h)
    assert r.status_code == 200 and r.json()["payout_status"] == "pending", r.text
    assert_problem(await http.post(retry, headers=clinic.admin.h), 409)  # not failed now
    assert await later.run_payouts_once() == 1
    s = (await http.get(url, headers=therapist.h, params={"period": period})).json()
    assert s["payout_status"] == "in_transit" and s["payout_reference"] != failed_ref
    pid = f"{therapist.user_id}:{period}"
    keys = [q.idempotency_key for q in stripe.requests if q.path == "/v1/payouts"]
    assert keys[-2:] == [f"payout:{pid}", f"payout:{pid}:2"]
    ledger = await clinic.ledger()
    assert ledger["balanced"]
    assert balance(ledger, f"therapist_payable:{therapist.user_id}") == 0  # paid out once
    assert s["reconciled"] is True
    # The failed attempt's late news changes nothing now.
    hook = await _hook(http, stripe, "payout.failed", failed_ref, CONNECT_WEBHOOK_SECRET)
    assert hook["applied"] is False
    assert balance(await clinic.ledger(), f"therapist_payable:{therapist.user_id}") == 0


def _async(fn):
    async def probe():
        return fn()

    return probe

"""Bad input and faults: each refused with a clear 4xx (or 503 while the provider is down),
nothing half-posted: the ledger's entry count and balances do not move."""

from __future__ import annotations

import grpc
import pytest
from rapport.billing.v1 import billing_pb2, billing_pb2_grpc
from rapport.types.v1.money_pb2 import Money
from rapport_platform.rpc import client_channel

from tests.billing.helpers import eventually, session_ended
from tests.identity import operators


async def _entries(clinic) -> int:
    return (await clinic.ledger())["entries_checked"]


async def test_manual_payments_refuse_bad_amounts_currencies_and_void_invoices(clinic, http):
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist))["appointment_id"]
    inv = await clinic.wait_invoice(client, aid)
    url = f"/v1/invoices/{inv['invoice_id']}/payments"
    before = await _entries(clinic)
    cases = [
        ({"amount_minor": 0, "currency": "USD", "method": "cash"}, 422),
        ({"amount_minor": -500, "currency": "USD", "method": "cash"}, 422),
        ({"amount_minor": 10.5, "currency": "USD", "method": "cash"}, 422),
        ({"amount_minor": 100, "currency": "EUR", "method": "cash"}, 422),  # mismatch
        ({"amount_minor": 100, "currency": "usd", "method": "cash"}, 422),
        ({"amount_minor": 100, "currency": "USD", "method": "bitcoin"}, 422),
        ({"amount_minor": 9001, "currency": "USD", "method": "cash"}, 409),  # more than due
        ({"amount_minor": 100, "currency": "USD", "method": "cash", "reference": "x" * 65}, 422),
        ({"amount_minor": 100, "currency": "USD", "method": "cash", "reference": "a\nb"}, 422),
    ]
    for body, status in cases:
        r = await http.post(url, headers=clinic.admin.h, json=body)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    # Only the clinic's admin records payments.
    ok = {"amount_minor": 100, "currency": "USD", "method": "cash"}
    assert (await http.post(url, headers=client.h, json=ok)).status_code == 403
    assert (await http.post(url, headers=therapist.h, json=ok)).status_code == 403
    other = await type(clinic)(http, clinic.stack).open()
    assert (await http.post(url, headers=other.admin.h, json=ok)).status_code == 403
    r = await http.post("/v1/invoices/inv_nope/payments", headers=clinic.admin.h, json=ok)
    assert r.status_code == 404
    assert await _entries(clinic) == before
    assert (await clinic.invoice_of(clinic.admin, aid))["by_hand"] == []  # refusals keep nothing

    # Void it (early cancellation), then try to pay it.
    r = await http.post(f"/v1/appointments/{aid}/cancel", headers=client.h, json={"reason": ""})
    assert r.status_code == 200
    await clinic.wait_invoice(client, aid, lambda i: i["status"] == "void")
    voided = await _entries(clinic)
    r = await http.post(url, headers=clinic.admin.h, json=ok)
    assert r.status_code == 409 and "void" in r.json()["detail"]
    r = await http.post(f"/v1/appointments/{aid}/payment", headers=client.h)
    assert r.status_code == 409
    assert await _entries(clinic) == voided
    assert (await clinic.ledger())["balanced"]


async def test_double_capture_and_paying_twice_are_refused(clinic, http):
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist))["appointment_id"]
    inv = await clinic.wait_invoice(client, aid)
    url = f"/v1/invoices/{inv['invoice_id']}/payments"
    full = {"amount_minor": 9000, "currency": "USD", "method": "cheque"}
    assert (await http.post(url, headers=clinic.admin.h, json=full)).status_code == 201
    before = await _entries(clinic)
    r = await http.post(url, headers=clinic.admin.h, json=full)
    assert r.status_code == 409 and "already paid" in r.json()["detail"]
    r = await http.post(f"/v1/appointments/{aid}/payment", headers=client.h)
    assert r.status_code == 409
    assert await _entries(clinic) == before


async def test_webhooks_with_bad_signatures_or_replayed_change_nothing(clinic, stack, http):
    stripe = stack.stripe
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist))["appointment_id"]
    await clinic.wait_invoice(client, aid)
    r = await http.post(f"/v1/appointments/{aid}/payment", headers=client.h)
    assert r.status_code == 201, r.text
    pid = r.json()["payment_id"]
    stripe.authorize(pid)
    payload = stripe.event("payment_intent.amount_capturable_updated", pid)
    hook = "/v1/billing/stripe/webhook"
    bad = [
        stripe.sign(payload, secret="whsec_someone_else"),
        stripe.sign(payload + b" "),  # signature of other bytes
        stripe.sign(payload, at=1_000_000_000),  # far outside the replay tolerance
        "t=1,v1=deadbeef",
        "",
    ]
    for signature in bad:
        r = await http.post(hook, content=payload, headers={"Stripe-Signature": signature})
        assert r.status_code in (401, 422), (signature, r.text)
    tampered = payload.replace(b'"amount_capturable": 9000', b'"amount_capturable": 1')
    r = await http.post(hook, content=tampered, headers={"Stripe-Signature": stripe.sign(payload)})
    assert r.status_code == 422
    inv = await clinic.invoice_of(client, aid)
    assert inv["status"] == "open"  # none of them authorized anything
    good = {"Stripe-Signature": stripe.sign(payload)}
    assert (await http.post(hook, content=payload, headers=good)).json()["applied"] is True
    assert (await http.post(hook, content=payload, headers=good)).json()["applied"] is False
    inv = await clinic.invoice_of(client, aid)
    assert [h["status"] for h in inv["history"]].count("authorized") == 1


async def test_settings_reads_and_superbills_refuse_bad_input(clinic, http):
    therapist = await clinic.therapist()
    client = await clinic.client()
    cid = clinic.admin.clinic_id
    url = f"/v1/clinics/{cid}/billing"
    for body in (
        {"sliding_scale": [{"client_id": client.user_id, "rate_bps": 0}]},
        {"sliding_scale": [{"client_id": client.user_id, "rate_bps": 10_001}]},
        {"no_show_fee_minor": -1},
        {"payment_first": "maybe"},
        {"commission_bps": 1},  # not the clinic admin's to set here
    ):
        r = await http.put(url, headers=clinic.admin.h, json=body)
        assert r.status_code == 422, (body, r.text)
    assert (await http.put(url, headers=therapist.h, json={})).status_code == 403
    other = await type(clinic)(http, clinic.stack).open()
    assert (await http.put(url, headers=other.admin.h, json={})).status_code == 403
    assert (
        await http.get(f"/v1/clinics/{cid}/ledger/check", headers=other.admin.h)
    ).status_code == 403
    assert (await http.get(f"/v1/clinics/{cid}/ledger/check", headers=client.h)).status_code == 403

    payouts = f"/v1/therapists/{therapist.user_id}/payouts"
    for period in ("2026-13", "2026", "26-01", "x"):
        r = await http.get(payouts, headers=therapist.h, params={"period": period})
        assert r.status_code == 422, period
    r = await http.get(payouts, headers=client.h, params={"period": "2026-01"})
    assert r.status_code == 403
    other_t = await clinic.therapist()
    r = await http.get(payouts, headers=other_t.h, params={"period": "2026-01"})
    assert r.status_code == 403

    aid = (await clinic.booked(client, therapist))["appointment_id"]
    await clinic.wait_invoice(client, aid)
    diag = f"/v1/appointments/{aid}/diagnosis"
    for code in ("41.1", "U07.1", "F41.12345", "F41-1"):
        r = await http.put(diag, headers=therapist.h, json={"diagnosis_code": code})
        assert r.status_code == 422, code
    r = await http.put(diag, headers=client.h, json={"diagnosis_code": "F41.1"})
    assert r.status_code == 403
    # Before the session there is nothing to put on a superbill.
    r = await http.put(diag, headers=therapist.h, json={"diagnosis_code": "F41.1"})
    assert r.status_code == 409
    assert (
        await http.get("/v1/invoices", headers={"Authorization": "Bearer x"})
    ).status_code == 401
    assert (await http.get("/v1/invoices")).status_code == 401


async def test_too_short_a_session_has_no_superbill_code(clinic, relay_bus, http):
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist))["appointment_id"]
    await clinic.wait_invoice(client, aid)
    await session_ended(relay_bus, aid, minutes=10, modality="chat")
    await clinic.wait_invoice(client, aid, lambda i: i["earned"])
    r = await http.put(
        f"/v1/appointments/{aid}/diagnosis", headers=therapist.h, json={"diagnosis_code": "F32.A"}
    )
    assert r.status_code == 409 and "16 minutes" in r.json()["detail"]


async def test_provider_down_leaves_the_invoice_pending_and_capture_retries(
    clinic, stack, relay_bus, http
):
    stripe = stack.stripe
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist))["appointment_id"]
    inv = await clinic.wait_invoice(client, aid)
    stripe.down = True
    try:
        r = await http.post(f"/v1/appointments/{aid}/payment", headers=client.h)
        assert r.status_code == 503 and r.headers["Retry-After"]
        assert (await clinic.invoice_of(client, aid))["status"] == "open"
    finally:
        stripe.down = False
    r = await http.post(f"/v1/appointments/{aid}/payment", headers=client.h)
    assert r.status_code == 201, r.text
    pid = r.json()["payment_id"]
    # A new attempt, a new idempotency key (Stripe may have stored the failed answer).
    keys = [
        q.idempotency_key
        for q in stripe.requests
        if q.params.get("metadata") == {"invoice_id": inv["invoice_id"]}
    ]
    # (the gateway's gRPC retries may make several failed attempts first)
    assert len(keys) >= 2 and len(set(keys)) == len(keys)
    assert keys == [f"{inv['invoice_id']}:authorize:{n}" for n in range(1, len(keys) + 1)]
    stripe.authorize(pid)
    payload = stripe.event("payment_intent.amount_capturable_updated", pid)
    r = await http.post(
        "/v1/billing/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": stripe.sign(payload)},
    )
    assert r.json()["applied"] is True

    stripe.down = True
    try:
        await session_ended(relay_bus, aid)
        await clinic.wait_invoice(client, aid, lambda i: i["earned"])
        # Capture failed at least twice; the invoice waits, authorized, nothing lost.
        await eventually(lambda: _captures(stripe, pid), lambda n: n >= 2, timeout=30)
        inv = await clinic.invoice_of(client, aid)
        assert inv["status"] == "authorized" and inv["paid"]["amount_minor"] == 0
    finally:
        stripe.down = False
    inv = await clinic.wait_invoice(client, aid, lambda i: i["status"] == "paid")
    assert inv["paid"]["amount_minor"] == 9000
    keys = {q.idempotency_key for q in stripe.requests if q.path.endswith(f"{pid}/capture")}
    # Every retry reused one key (that of the authorization attempt that succeeded).
    assert len(keys) == 1 and keys.pop().startswith(f"{inv['invoice_id']}:capture:")
    assert (await clinic.ledger())["balanced"]


async def _captures(stripe, pid: str) -> int:
    return sum(1 for q in stripe.requests if q.path.endswith(f"{pid}/capture"))


async def test_payouts_refuse_outsiders_even_for_a_month_without_sessions(clinic, http):
    """A month with no earnings is still the clinic's business: another clinic's admin and an
    operator (the marketplace's admin) get 403, not an empty statement (issue 13)."""
    therapist = await clinic.therapist()
    payouts = f"/v1/therapists/{therapist.user_id}/payouts"
    quiet = {"period": "2001-01"}  # nobody earned anything then
    r = await http.get(payouts, headers=therapist.h, params=quiet)
    assert r.status_code == 200 and r.json()["lines"] == [], r.text
    r = await http.get(payouts, headers=clinic.admin.h, params=quiet)
    assert r.status_code == 200 and r.json()["lines"] == [], r.text
    other = await type(clinic)(http, clinic.stack).open()
    operator = await operators.operator(http)
    for outsider in (other.admin, operator):
        r = await http.get(payouts, headers=outsider.h, params=quiet)
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    # An id that is no therapist: refused, never an empty statement.
    r = await http.get("/v1/therapists/nobody-here/payouts", headers=other.admin.h, params=quiet)
    assert r.status_code in (403, 404), r.text


async def test_billing_refuses_a_free_text_reference_over_grpc(clinic, stack, http):
    """The gateway's check is not the only one: billing's own API refuses a reference that is
    not a short code (it could carry a name), and records nothing."""
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist))["appointment_id"]
    inv = await clinic.wait_invoice(client, aid)
    before = await _entries(clinic)
    auth = (("authorization", f"Bearer {clinic.admin.access}"),)
    channel = client_channel(f"127.0.0.1:{stack.billing.server.port}")
    try:
        stub = billing_pb2_grpc.BillingServiceStub(channel)
        for reference in ("Paid by Jane Doe, thanks!", "x" * 65):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.RecordManualPayment(
                    billing_pb2.RecordManualPaymentRequest(
                        invoice_id=inv["invoice_id"],
                        amount=Money(amount_minor=100, currency="USD"),
                        method="cash",
                        reference=reference,
                    ),
                    metadata=auth,
                )
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "Jane" not in (refused.value.details() or "")
    finally:
        await channel.close()
    assert await _entries(clinic) == before
    after = await clinic.invoice_of(clinic.admin, aid)
    assert after["by_hand"] == [] and after["paid"]["amount_minor"] == 0

"""Clinic terms billing depends on, through the gateway and real NATS: a payment-first clinic
takes only held bookings (scheduling refuses the rest, from identity's clinic terms), money is
split at the clinic's commission as identity knows it when the session is delivered (asked with
billing's service token), and the diagnosis code on a superbill is stored sealed by Vault."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from tests.billing.helpers import balance, session_ended
from tests.scheduling.helpers import on_grid
from tests.waiting import eventually


async def test_a_payment_first_clinic_refuses_an_unheld_booking(clinic, http):
    therapist = await clinic.therapist()
    client = await clinic.client()
    settings = await clinic.settings(payment_first=True)
    assert settings["payment_first"] is True
    start = on_grid(datetime.now(UTC) + timedelta(hours=72))

    r = await clinic.book(client, therapist, start)
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "hold" in r.json()["detail"]
    r = await http.get("/v1/appointments", headers=client.h)
    assert r.status_code == 200 and r.json()["items"] == []  # nothing booked

    r = await clinic.book(client, therapist, start, hold=True)
    assert r.status_code == 201 and r.json()["status"] == "held", r.text
    await clinic.wait_invoice(client, r.json()["appointment_id"])

    # The clinic turns it off: an ordinary booking is taken again.
    assert (await clinic.settings(payment_first=False))["payment_first"] is False
    r = await clinic.book(client, therapist, start + timedelta(hours=2))
    assert r.status_code == 201 and r.json()["status"] == "confirmed", r.text


async def test_money_is_split_at_the_commission_identity_knows_when_it_is_earned(
    clinic, http, relay_bus
):
    therapist = await clinic.therapist()
    client = await clinic.client()
    before = (await clinic.booked(client, therapist))["appointment_id"]
    after = (await clinic.booked(client, therapist, hours=120))["appointment_id"]
    for aid in (before, after):
        await clinic.wait_invoice(client, aid)
    # A session earned at 15 %.
    await session_ended(relay_bus, before)
    await clinic.wait_invoice(client, before, lambda i: i["earned"])

    # The clinic's admin changes the commission (15 % -> 25 %); identity publishes no event.
    terms = f"/v1/clinics/{clinic.admin.clinic_id}/terms"
    r = await http.patch(terms, headers=clinic.admin.h, json={"commission_bps": 2500})
    assert r.status_code == 200 and r.json()["commission_bps"] == 2500, r.text

    await session_ended(relay_bus, after)
    inv = await clinic.wait_invoice(client, after, lambda i: i["earned"])
    assert inv["amount"]["amount_minor"] == 9000
    ledger = await clinic.ledger()
    assert ledger["balanced"]
    # 15 % of the first session (money already split keeps its split), 25 % of the second.
    assert balance(ledger, f"clinic_revenue:{clinic.admin.clinic_id}") == -(1350 + 2250)
    assert balance(ledger, "platform_fees") == -(450 + 450)
    assert balance(ledger, f"therapist_payable:{therapist.user_id}") == -(7200 + 6300)


async def test_the_diagnosis_code_is_sealed_by_vault_and_never_logged(
    clinic, relay_bus, http, billing_db, caplog
):
    caplog.set_level(logging.DEBUG)
    code = "F43.12"
    therapist = await clinic.therapist()
    client = await clinic.client()
    aid = (await clinic.booked(client, therapist))["appointment_id"]
    other = (await clinic.booked(client, therapist, hours=120))["appointment_id"]
    await clinic.wait_invoice(client, aid)
    await clinic.wait_invoice(client, other)
    for a in (aid, other):
        await session_ended(relay_bus, a)
        await clinic.wait_invoice(client, a, lambda i: i["earned"])

    async def diagnose(appointment_id: str, diagnosis: str):
        """Earned may come first from scheduling's completion; the superbill needs the relay's
        measures too (another stream, no order between them): 409 until billing has them."""

        async def once():
            r = await http.put(
                f"/v1/appointments/{appointment_id}/diagnosis",
                headers=therapist.h,
                json={"diagnosis_code": diagnosis},
            )
            return None if r.status_code == 409 else r

        return await eventually(once, what="billing has the relay's measures")

    r = await diagnose(aid, code)
    assert r.status_code == 200 and r.json()["diagnosis_code"] == code, r.text
    r = await http.get(f"/v1/appointments/{aid}/superbill", headers=client.h)
    assert r.status_code == 200 and r.json()["diagnosis_code"] == code

    # Stored: Vault transit's ciphertext only, nowhere the code itself.
    doc = await billing_db["superbills"].find_one({"_id": aid})
    assert doc["diagnosis_sealed"].startswith("vault:v")
    assert code not in str(doc) and "diagnosis_code" not in doc
    for name in await billing_db.list_collection_names():
        async for d in billing_db[name].find({}):
            assert code not in str(d), name
    # The key is derived per appointment: the ciphertext moved to another appointment opens
    # nothing (and says nothing).
    r = await diagnose(other, "Z63.0")
    assert r.status_code == 200, r.text
    await billing_db["superbills"].update_one(
        {"_id": other}, {"$set": {"diagnosis_sealed": doc["diagnosis_sealed"]}}
    )
    r = await http.get(f"/v1/appointments/{other}/superbill", headers=client.h)
    assert r.status_code >= 400 and code not in r.text
    for record in caplog.records:
        assert code not in record.getMessage(), record.name
        assert code not in str(record.args)

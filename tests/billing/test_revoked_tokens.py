"""A role change revokes the account's access tokens everywhere (issue 13, item 7): billing checks
token versions itself, not only signatures, as every service does."""

from __future__ import annotations

from tests.waiting import eventually

CLINIC = {
    "name": "Founded Later",
    "currency": "USD",
    "timezone": "UTC",
    "commission_bps": 0,
    "cancellation_window_hours": 24,
    "late_cancellation_fee_minor": 0,
}


async def test_billing_refuses_a_token_revoked_by_a_role_change(http, clinic):
    client = await clinic.client()
    old = dict(client.h)
    assert (await http.get("/v1/invoices", headers=old)).status_code == 200
    r = await http.post("/v1/clinics", headers=old, json=CLINIC)
    assert r.status_code == 201, r.text

    async def refused() -> bool:
        return (await http.get("/v1/invoices", headers=old)).status_code == 401

    # Each verifier refreshes identity's revocations every few seconds: bounded, not timed.
    await eventually(refused, what="billing refusing the revoked token")

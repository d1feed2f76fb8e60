"""A role change revokes the account's access tokens everywhere (issue 13, item 7): notes-vault
checks token versions itself, not only signatures, as every service does."""

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


async def test_notes_vault_refuses_a_token_revoked_by_a_role_change(http, care):
    client = await care.client()
    old = dict(client.h)
    measures = f"/v1/clients/{client.user_id}/measures"
    assert (await http.get(measures, headers=old)).status_code == 200
    r = await http.post("/v1/clinics", headers=old, json=CLINIC)
    assert r.status_code == 201, r.text

    async def refused() -> bool:
        return (await http.get(measures, headers=old)).status_code == 401

    # Each verifier refreshes identity's revocations every few seconds: bounded, not timed.
    await eventually(refused, what="notes-vault refusing the revoked token")

"""Erasure by crypto-shredding, key rotation with rewrap, legal holds (the clock is moved,
never waited for)."""

from __future__ import annotations

import base64
from datetime import timedelta

import hvac
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from rapport_notes_vault.domain import aad

from tests.notes_vault.helpers import Care, marker, soap
from tests.people import assert_problem

RETENTION = timedelta(days=7 * 365 + 2)


async def test_erasure_shreds_the_key_after_retention_and_nothing_decrypts(
    care, http, notes_db, service, moved, stack
):
    t, c = await care.staff(0), await care.client()
    appt = await care.book(c, t)
    text = marker()
    signed = await care.note(t, c, appt, marker=text)
    draft = await care.note(t, c, appt, sign=False)
    r = await http.post(
        f"/v1/clients/{c.user_id}/measures",
        headers=c.h,
        json={"instrument": "GAD7", "answers": [1] * 7},
    )
    assert r.status_code == 201

    assert_problem(await http.post(f"/v1/clients/{c.user_id}/erasure", headers=t.h), 403)
    r = await http.post(f"/v1/clients/{c.user_id}/erasure", headers=c.h)
    assert r.status_code == 202, r.text
    assert r.json()["drafts_destroyed"] == 1  # not part of the clinical record: gone at once
    assert await notes_db["notes"].find_one({"_id": draft["note_id"]}) is None

    # Within retention nothing is shredded and the record stays readable to its author.
    moved.offset = RETENTION - timedelta(days=1)
    assert await service.shred_due() == []
    assert (await http.get(f"/v1/notes/{signed['note_id']}", headers=t.h)).status_code == 200

    moved.offset = RETENTION + timedelta(days=1)
    assert c.user_id in await service.shred_due()
    assert_problem(await http.get(f"/v1/notes/{signed['note_id']}", headers=t.h), 404)

    # The raw record is still in Mongo; with the key gone it opens for no one, not even root.
    doc = await notes_db["notes"].find_one({"_id": signed["note_id"]})
    root = hvac.Client(url=stack.deps.vault_addr, token=_root_token(stack))
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.secrets.transit.decrypt_data(
            f"notes-client-{c.user_id}",
            doc["wrapped_key"],
            context=base64.b64encode(signed["note_id"].encode()).decode(),
        )
    with pytest.raises(InvalidTag):  # and guessing a key is hopeless
        AESGCM(AESGCM.generate_key(256)).decrypt(
            bytes(doc["nonce"]), bytes(doc["ciphertext"]), aad(signed["note_id"], 1)
        )
    assert text.encode() not in bytes(doc["ciphertext"])


async def test_legal_hold_stops_the_shredding(care, http, service, moved):
    t, c = await care.staff(0), await care.client()
    appt = await care.book(c, t)
    note = await care.note(t, c, appt)
    assert_problem(
        await http.put(f"/v1/clients/{c.user_id}/legal-hold", headers=t.h, json={"hold": True}),
        403,
    )
    r = await http.put(
        f"/v1/clients/{c.user_id}/legal-hold", headers=care.admin.h, json={"hold": True}
    )
    assert r.status_code == 200 and r.json()["legal_hold"] is True
    assert (await http.post(f"/v1/clients/{c.user_id}/erasure", headers=c.h)).json()["legal_hold"]
    moved.offset = RETENTION * 2
    assert c.user_id not in await service.shred_due()
    assert (await http.get(f"/v1/notes/{note['note_id']}", headers=t.h)).status_code == 200
    await http.put(
        f"/v1/clients/{c.user_id}/legal-hold", headers=care.admin.h, json={"hold": False}
    )
    assert c.user_id in await service.shred_due()


async def test_rotation_rewraps_every_data_key_and_notes_stay_readable(
    care, http, notes_db, service
):
    t, c = await care.staff(0), await care.client()
    appt = await care.book(c, t)
    note = await care.note(t, c, appt, marker="before-rotation")
    before = await notes_db["notes"].find_one({"_id": note["note_id"]})
    assert before["wrapped_key"].startswith("vault:v1:")
    assert await service.rotate_key(c.user_id) == 2
    assert await service.rewrap(c.user_id) >= 1
    after = await notes_db["notes"].find_one({"_id": note["note_id"]})
    assert after["wrapped_key"].startswith("vault:v2:") and after["key_version"] == 2
    assert bytes(after["ciphertext"]) == bytes(before["ciphertext"])  # the body is untouched
    r = await http.get(f"/v1/notes/{note['note_id']}", headers=t.h)
    assert r.status_code == 200 and r.json()["sections"]["plan"].endswith("before-rotation")
    # New notes use the new version; rewrap again finds nothing to do.
    r = await http.put(
        f"/v1/notes/{(await care.note(t, c, appt, sign=False))['note_id']}",
        headers=t.h,
        json={"sections": soap()},
    )
    assert r.status_code == 200
    assert await service.rewrap(c.user_id) == 0


def _root_token(stack) -> str:
    """The dev server's root token, from its command line (tests only)."""
    flag = "-dev-root-token-id="
    return next(a for a in stack.deps.vault.argv if a.startswith(flag)).removeprefix(flag)


async def test_a_clinic_keeps_records_longer_and_an_erasure_waits_for_it(
    care, http, notes_db, service, moved
):
    own = await Care(http, notes_db).open()  # a clinic of its own: the shared one keeps the default
    t, c = await own.therapist(), await own.client()
    note = await own.note(t, c, await own.book(c, t))
    url = f"/v1/clinics/{own.admin.clinic_id}/records-retention"
    r = await http.get(url, headers=own.admin.h)
    assert r.status_code == 200, r.text
    minimum = r.json()["minimum_days"]
    assert minimum == RETENTION.days and r.json()["retention_days"] == minimum

    # Only the clinic's admin; never below the deployment's retention. Nothing changes.
    assert_problem(await http.get(url), 401)
    for who in (t, c, care.admin):
        assert_problem(await http.get(url, headers=who.h), 403)
        assert_problem(await http.put(url, headers=who.h, json={"retention_days": 9000}), 403)
    problem = assert_problem(
        await http.put(url, headers=own.admin.h, json={"retention_days": minimum - 1}), 422
    )
    assert problem["field"] == "retention_days"
    assert (await http.get(url, headers=own.admin.h)).json()["retention_days"] == minimum

    # The client asks for erasure under the default; then the clinic keeps records a year longer.
    assert (await http.post(f"/v1/clients/{c.user_id}/erasure", headers=c.h)).status_code == 202
    r = await http.put(url, headers=own.admin.h, json={"retention_days": minimum + 365})
    assert r.status_code == 200 and r.json()["retention_days"] == minimum + 365, r.text

    # When the old date comes the shredding waits, and the date moves on.
    moved.offset = RETENTION + timedelta(days=1)
    assert c.user_id not in await service.shred_due()
    assert (await http.get(f"/v1/notes/{note['note_id']}", headers=t.h)).status_code == 200
    moved.offset = RETENTION + timedelta(days=367)
    assert c.user_id in await service.shred_due()
    assert_problem(await http.get(f"/v1/notes/{note['note_id']}", headers=t.h), 404)
    entry = await notes_db["audit"].find_one(
        {"action": "retention.set", "outcome": "allowed", "resource_id": own.admin.clinic_id}
    )
    assert entry["actor_id"] == own.admin.user_id and entry["detail"] == f"{minimum + 365}d"

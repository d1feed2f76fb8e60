"""Notes through the gateway: writing, signing, amending, and who reads what (each rule)."""

from __future__ import annotations

from tests.notes_vault.helpers import marker, soap
from tests.people import assert_problem


async def test_author_writes_signs_amends_and_reads_every_version(care, http, notes_db):
    t, c = await care.staff(0), await care.client()
    appt = await care.book(c, t)
    text = marker()
    draft = await care.note(t, c, appt, marker=text, sign=False)
    assert draft["status"] == "draft" and draft["version"] == 1
    # Only ciphertext in Mongo.
    doc = await notes_db["notes"].find_one({"_id": draft["note_id"]})
    assert doc["wrapped_key"].startswith("vault:v1:")
    assert text.encode() not in bytes(doc["ciphertext"]) and "sections" not in doc

    r = await http.put(
        f"/v1/notes/{draft['note_id']}", headers=t.h, json={"sections": soap(text + "-edited")}
    )
    assert r.status_code == 200, r.text
    r = await http.post(f"/v1/notes/{draft['note_id']}/sign", headers=t.h)
    assert r.status_code == 200 and r.json()["status"] == "signed"
    # A signed note is never edited.
    r = await http.put(f"/v1/notes/{draft['note_id']}", headers=t.h, json={"sections": soap()})
    assert_problem(r, 409)
    r = await http.post(f"/v1/notes/{draft['note_id']}/sign", headers=t.h)
    assert_problem(r, 409)

    r = await http.post(
        f"/v1/notes/{draft['note_id']}/amend", headers=t.h, json={"sections": soap("amended")}
    )
    assert r.status_code == 201, r.text
    amended = r.json()
    assert amended["version"] == 2 and amended["amends_note_id"] == draft["note_id"]
    assert amended["root_note_id"] == draft["note_id"]

    first = (await http.get(f"/v1/notes/{draft['note_id']}", headers=t.h)).json()
    assert first["sections"]["plan"].endswith(text + "-edited") and first["access"] == "author"
    assert first["version_ids"] == [draft["note_id"], amended["note_id"]]
    second = (await http.get(f"/v1/notes/{amended['note_id']}", headers=t.h)).json()
    assert second["sections"]["plan"].endswith("amended")
    # Amending an older version is refused: amendments chain from the latest.
    r = await http.post(
        f"/v1/notes/{draft['note_id']}/amend", headers=t.h, json={"sections": soap("x")}
    )
    assert_problem(r, 409)


async def test_no_note_for_a_client_the_therapist_never_treated(care, http, notes_db):
    t, other_t, c = await care.staff(0), await care.staff(1), await care.client()
    appt = await care.book(c, other_t)
    before = await notes_db["notes"].count_documents({})
    denials = await care.audit_count(action="note.create", outcome="denied", actor_id=t.user_id)
    r = await http.post(
        f"/v1/clients/{c.user_id}/notes",
        headers=t.h,
        json={"appointment_id": appt, "kind": "progress", "sections": soap()},
    )
    assert_problem(r, 403)
    assert await notes_db["notes"].count_documents({}) == before
    assert (
        await care.audit_count(action="note.create", outcome="denied", actor_id=t.user_id)
        == denials + 1
    )


async def test_content_needs_mfa(care, http):
    t, c = await care.staff(0), await care.client(mfa=False)
    appt = await care.book(c, t)
    note = await care.note(t, c, appt, shared_with_client=True)
    # The client's sign-in has no second factor: the shared note's text stays closed.
    assert_problem(await http.get(f"/v1/notes/{note['note_id']}", headers=c.h), 403)
    listed = await http.get(f"/v1/clients/{c.user_id}/notes", headers=c.h)
    assert listed.status_code == 200  # metadata needs no second factor
    assert [n["note_id"] for n in listed.json()["items"]] == [note["note_id"]]
    assert "sections" not in listed.json()["items"][0]
    # A therapist without MFA writes nothing.
    plain = await care.therapist(mfa=False)
    appt2 = await care.book(c, plain)
    r = await http.post(
        f"/v1/clients/{c.user_id}/notes",
        headers=plain.h,
        json={"appointment_id": appt2, "kind": "progress", "sections": soap()},
    )
    assert_problem(r, 403)
    assert await care.audit_count(actor_id=plain.user_id, outcome="denied", detail="no_mfa") == 1


async def test_other_treating_therapist_reads_progress_notes_only_with_consent(care, http):
    author, colleague, c = await care.staff(0), await care.staff(1), await care.client()
    appt = await care.book(c, author)
    await care.book(c, colleague)
    progress = await care.note(author, c, appt)
    psycho = await care.note(author, c, appt, kind="psychotherapy")

    r = await http.get(f"/v1/notes/{progress['note_id']}", headers=colleague.h)
    assert_problem(r, 403)
    listed = (await http.get(f"/v1/clients/{c.user_id}/notes", headers=colleague.h)).json()
    assert listed["items"] == []

    consent = await care.consent(c, colleague)
    r = await http.get(f"/v1/notes/{progress['note_id']}", headers=colleague.h)
    assert r.status_code == 200 and r.json()["access"] == "consent"
    assert r.json()["redisclosure_notice"] is None  # not a Part 2 record
    listed = (await http.get(f"/v1/clients/{c.user_id}/notes", headers=colleague.h)).json()
    assert [n["note_id"] for n in listed["items"]] == [progress["note_id"]]
    # Psychotherapy notes: the author's alone, consent or not.
    r = await http.get(f"/v1/notes/{psycho['note_id']}", headers=colleague.h)
    assert_problem(r, 403)

    r = await http.post(f"/v1/consents/{consent['consent_id']}/revoke", headers=c.h)
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    r = await http.get(f"/v1/notes/{progress['note_id']}", headers=colleague.h)
    assert_problem(r, 403)


async def test_a_therapist_with_consent_who_does_not_treat_the_client_reads_nothing(care, http):
    author, stranger, c = await care.staff(0), await care.staff(2), await care.client()
    appt = await care.book(c, author)
    note = await care.note(author, c, appt)
    await care.consent(c, stranger)
    r = await http.get(f"/v1/notes/{note['note_id']}", headers=stranger.h)
    assert_problem(r, 403)


async def test_psychotherapy_notes_are_never_shared(care, http):
    t, c = await care.staff(0), await care.client()
    appt = await care.book(c, t)
    r = await http.post(
        f"/v1/clients/{c.user_id}/notes",
        headers=t.h,
        json={
            "appointment_id": appt,
            "kind": "psychotherapy",
            "body": "process notes",
            "shared_with_client": True,
        },
    )
    assert_problem(r, 422)
    psycho = await care.note(t, c, appt, kind="psychotherapy")
    r = await http.get(f"/v1/notes/{psycho['note_id']}", headers=c.h)
    assert_problem(r, 403)
    assert (await http.get(f"/v1/notes/{psycho['note_id']}", headers=t.h)).status_code == 200


async def test_client_reads_what_the_author_shared_and_nothing_else(care, http):
    t, c = await care.staff(0), await care.client()
    appt = await care.book(c, t)
    shared = await care.note(t, c, appt, shared_with_client=True)
    private = await care.note(t, c, appt)
    r = await http.get(f"/v1/notes/{shared['note_id']}", headers=c.h)
    assert r.status_code == 200 and r.json()["access"] == "client"
    assert_problem(await http.get(f"/v1/notes/{private['note_id']}", headers=c.h), 403)
    listed = (await http.get(f"/v1/clients/{c.user_id}/notes", headers=c.h)).json()
    assert [n["note_id"] for n in listed["items"]] == [shared["note_id"]]
    # Another client sees nothing of it.
    other = await care.client()
    assert_problem(await http.get(f"/v1/notes/{shared['note_id']}", headers=other.h), 403)
    assert_problem(await http.get(f"/v1/clients/{c.user_id}/notes", headers=other.h), 403)


async def test_clinic_admin_sees_metadata_never_content(care, http):
    t, c = await care.staff(0), await care.client()
    appt = await care.book(c, t)
    note = await care.note(t, c, appt)
    listed = await http.get(f"/v1/clients/{c.user_id}/notes", headers=care.admin.h)
    assert listed.status_code == 200
    assert [n["note_id"] for n in listed.json()["items"]] == [note["note_id"]]
    assert_problem(await http.get(f"/v1/notes/{note['note_id']}", headers=care.admin.h), 403)


async def test_listing_is_paginated(care, http):
    t, c = await care.staff(0), await care.client()
    appt = await care.book(c, t)
    ids = {(await care.note(t, c, appt, sign=False))["note_id"] for _ in range(3)}
    seen, cursor = [], ""
    for _ in range(3):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await http.get(f"/v1/clients/{c.user_id}/notes", headers=t.h, params=params)).json()
        seen += [n["note_id"] for n in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert set(seen) == ids and len(seen) == 3

"""Who may list a client's notes and consents, and what a listing shows (issue 13): a clinic
admin sees the administrative fields of the clinic's notes, never the clinical ones (the sud
flag of 42 CFR Part 2 above all); an outsider is refused (403), never answered an empty page."""

from __future__ import annotations

from tests.identity import operators
from tests.notes_vault.helpers import Care
from tests.people import assert_problem

CLINICAL = ("kind", "format", "sud", "shared_with_client")


async def test_a_clinic_admin_never_learns_of_part2_or_psychotherapy_notes(care, http):
    author, colleague, c = await care.staff(0), await care.staff(1), await care.client()
    appt = await care.book(c, author)
    await care.book(c, colleague)
    sud = await care.note(author, c, appt, sud=True)
    psycho = await care.note(author, c, appt, kind="psychotherapy", sign=False)
    url = f"/v1/clients/{c.user_id}/notes"

    r = await http.get(url, headers=care.admin.h)
    assert r.status_code == 200, r.text
    listed = {n["note_id"]: n for n in r.json()["items"]}
    assert set(listed) == {sud["note_id"], psycho["note_id"]}
    for n in listed.values():
        assert all(n[field] is None for field in CLINICAL), n
        # What an admin keeps records with is still there.
        assert n["author_id"] == author.user_id and n["appointment_id"] == appt
        assert n["status"] in ("draft", "signed") and n["created_at"]

    # The author sees everything of their own notes.
    mine = {n["note_id"]: n for n in (await http.get(url, headers=author.h)).json()["items"]}
    assert mine[sud["note_id"]]["sud"] is True
    assert mine[psycho["note_id"]]["kind"] == "psychotherapy"

    # A colleague the client consented to (Part 2 included) reads the note, so sees its flag.
    await care.consent(c, colleague, covers_sud=True)
    theirs = (await http.get(url, headers=colleague.h)).json()["items"]
    assert [(n["note_id"], n["sud"]) for n in theirs] == [(sud["note_id"], True)]


async def test_outsiders_are_refused_a_clients_lists(care, http, notes_db):
    t, stranger, c = await care.staff(0), await care.staff(2), await care.client()
    appt = await care.book(c, t)
    await care.note(t, c, appt)
    other = await Care(http, notes_db).open()
    other_t = await other.therapist()
    operator = await operators.operator(http)
    notes, consents = f"/v1/clients/{c.user_id}/notes", f"/v1/clients/{c.user_id}/consents"

    # Another clinic's admin and therapist, an operator (admin of the marketplace, where this
    # client is not seen), and a colleague who does not treat the client.
    for outsider in (other.admin, other_t, operator, stranger):
        assert_problem(await http.get(notes, headers=outsider.h), 403)
    for outsider in (other_t, stranger):
        assert_problem(await http.get(consents, headers=outsider.h), 403)

    # Named in a consent, the colleague lists it; the notes stay closed (no treatment).
    consent = await care.consent(c, stranger)
    r = await http.get(consents, headers=stranger.h)
    assert r.status_code == 200 and [x["consent_id"] for x in r.json()["items"]] == [
        consent["consent_id"]
    ]
    assert_problem(await http.get(notes, headers=stranger.h), 403)
    # The treating therapist and the clinic's own admin list; an empty consent list is an answer.
    assert (await http.get(notes, headers=t.h)).status_code == 200
    assert (await http.get(notes, headers=care.admin.h)).status_code == 200
    r = await http.get(consents, headers=t.h)
    assert r.status_code == 200 and r.json()["items"] == []

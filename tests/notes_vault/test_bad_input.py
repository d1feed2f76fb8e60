"""Bad input: a clear 4xx problem+json, nothing stored (the issue's list; the others live beside
the rule they break: signed edits in test_notes, expired/revoked consents in test_part2, answers in
test_measures)."""

from __future__ import annotations

from tests.notes_vault.helpers import soap
from tests.people import assert_problem


async def test_empty_oversized_unknown_and_malformed_notes_store_nothing(care, http, notes_db):
    t, c = await care.staff(0), await care.client()
    appt = await care.book(c, t)
    url = f"/v1/clients/{c.user_id}/notes"
    bad = [
        {"appointment_id": appt, "kind": "intake", "body": "   "},
        {"appointment_id": appt, "kind": "intake", "body": "x" * 70_000},
        {"appointment_id": appt, "kind": "diary", "body": "x"},
        {"appointment_id": appt, "kind": "progress", "sections": {**soap(), "plan": ""}},
        {"appointment_id": appt, "kind": "progress", "sections": {"subjective": "only"}},
        {"appointment_id": appt, "kind": "progress", "body": "free text is not SOAP"},
        {"appointment_id": appt, "kind": "intake", "body": "x", "extra": 1},
        {"kind": "intake", "body": "x"},
    ]
    for body in bad:
        assert_problem(await http.post(url, headers=t.h, json=body), 422)
    assert await notes_db["notes"].count_documents({"client_id": c.user_id}) == 0
    assert_problem(await http.get("/v1/notes/no-such-note", headers=t.h), 404)
    assert_problem(await http.get("/v1/notes/bad id!", headers=t.h), 422)
    assert_problem(await http.get(f"/v1/clients/{c.user_id}/notes", headers=t.h,
                                  params={"cursor": "garbage"}), 422)  # fmt: skip
    assert_problem(await http.get(f"/v1/clients/{c.user_id}/notes"), 401)

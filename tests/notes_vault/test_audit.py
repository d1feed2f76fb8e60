"""The audit log: every read, write and denial, no PHI, hash-chained; the operator's verify
call finds an altered or removed entry."""

from __future__ import annotations

import json

import pytest

from tests.identity import operators
from tests.notes_vault.helpers import marker
from tests.people import assert_problem


async def test_reads_writes_and_denials_are_audited_without_phi(care, http, notes_db):
    t, c, other = await care.staff(0), await care.client(), await care.staff(1)
    appt = await care.book(c, t)
    text = marker()
    note = await care.note(t, c, appt, marker=text)
    await http.get(f"/v1/notes/{note['note_id']}", headers=t.h)
    await http.get(f"/v1/notes/{note['note_id']}", headers=other.h)
    entries = [e async for e in notes_db["audit"].find({"client_id": c.user_id})]
    actions = {(e["action"], e["outcome"], e["actor_id"]) for e in entries}
    assert ("note.create", "allowed", t.user_id) in actions
    assert ("note.sign", "allowed", t.user_id) in actions
    assert ("note.read", "allowed", t.user_id) in actions
    assert ("note.read", "denied", other.user_id) in actions
    assert text not in json.dumps(entries, default=str)


async def test_verify_reports_the_first_altered_or_missing_entry(care, http, notes_db):
    op = await operators.operator(http)
    t, c = await care.staff(0), await care.client()
    appt = await care.book(c, t)
    await care.note(t, c, appt)
    assert_problem(await http.post("/v1/audit/verify", headers=t.h), 403)
    assert_problem(await http.post("/v1/audit/verify", headers=care.admin.h), 403)
    r = await http.post("/v1/audit/verify", headers=op.h)
    assert r.status_code == 200, r.text
    assert r.json()["intact"] is True and r.json()["entries"] > 3

    victim = await notes_db["audit"].find_one({"client_id": c.user_id, "action": "note.create"})
    try:
        await notes_db["audit"].update_one(
            {"_id": victim["_id"]}, {"$set": {"actor_id": "someone-else"}}
        )
        report = (await http.post("/v1/audit/verify", headers=op.h)).json()
        assert report["intact"] is False and report["first_broken_seq"] == victim["_id"]
        assert report["problem"] == "entry altered"

        # Removing an entry (restored first) is found just as well.
        await notes_db["audit"].replace_one({"_id": victim["_id"]}, victim)
        await notes_db["audit"].delete_one({"_id": victim["_id"]})
        report = (await http.post("/v1/audit/verify", headers=op.h)).json()
        assert report["intact"] is False and report["first_broken_seq"] == victim["_id"]
        assert report["problem"] == "entry missing"

        # Re-hashing an altered entry does not help: the next entry's link breaks.
        forged = {**victim, "actor_id": "someone-else"}
        from rapport_notes_vault.domain import AuditEntry

        fields = {k: v for k, v in forged.items() if k in AuditEntry.__dataclass_fields__}
        fields["seq"] = forged["_id"]
        forged["hash"] = AuditEntry(**fields).compute_hash()
        await notes_db["audit"].insert_one(forged)
        report = (await http.post("/v1/audit/verify", headers=op.h)).json()
        assert report["intact"] is False and report["first_broken_seq"] == victim["_id"] + 1
    finally:
        await notes_db["audit"].replace_one({"_id": victim["_id"]}, victim, upsert=True)
    assert (await http.post("/v1/audit/verify", headers=op.h)).json()["intact"] is True


async def test_concurrent_writes_keep_one_unbroken_chain(care, http):
    import asyncio

    op = await operators.operator(http)
    t, c = await care.staff(0), await care.client()
    appt = await care.book(c, t)
    body = {"appointment_id": appt, "kind": "intake", "body": "first session"}
    replies = await asyncio.gather(
        *(http.post(f"/v1/clients/{c.user_id}/notes", headers=t.h, json=body) for _ in range(8))
    )
    assert [r.status_code for r in replies] == [201] * 8
    report = (await http.post("/v1/audit/verify", headers=op.h)).json()
    assert report["intact"] is True, report
    assert await care.audit_count(client_id=c.user_id, action="note.create") == 8


async def test_a_sequence_number_taken_meanwhile_is_a_conflict_to_retry_not_an_error(
    notes_app, notes_db
):
    """Two appends that read the same head: the later insert of that sequence number is a write
    conflict (the transaction runs again on the new head), never a 500 (found by `make bench`)."""
    from pymongo.errors import DuplicateKeyError, OperationFailure
    from rapport_notes_vault.domain import AuditEntry
    from rapport_notes_vault.store import NotesStore

    repo = NotesStore(notes_app.store)
    head = await notes_db["audit_head"].find_one({"_id": "head"})
    taken = (head or {}).get("seq", 0) + 1
    await notes_db["audit"].insert_one({"_id": taken, "stand_in": "another append"})
    entry = AuditEntry(
        seq=0, at="2026-01-01T00:00:00Z", actor_id="u", actor_role="operator",
        action="audit.verify", outcome="allowed",
    )  # fmt: skip
    try:
        with pytest.raises(OperationFailure) as info:
            await notes_app.store.transaction(lambda s: repo.append_audit(s, entry), attempts=2)
        assert not isinstance(info.value, DuplicateKeyError)
        assert info.value.has_error_label("TransientTransactionError")
    finally:
        await notes_db["audit"].delete_one({"_id": taken})

"""42 CFR Part 2 consent, the redisclosure notice, the accounting of disclosures, break-glass."""

from __future__ import annotations

from datetime import timedelta

import nats
from rapport.events.v1 import notes_pb2 as ev

from tests.notes_vault.helpers import wait_for
from tests.people import assert_problem


async def test_sud_records_need_a_part2_consent_and_carry_the_notice(care, http, moved):
    author, colleague, c = await care.staff(0), await care.staff(1), await care.client()
    appt = await care.book(c, author)
    await care.book(c, colleague)
    sud = await care.note(author, c, appt, sud=True)
    plain = await care.note(author, c, appt)

    # An ordinary consent opens the ordinary note, not the SUD one (nor even its metadata).
    await care.consent(c, colleague, covers_sud=False)
    assert (await http.get(f"/v1/notes/{plain['note_id']}", headers=colleague.h)).status_code == 200
    assert_problem(await http.get(f"/v1/notes/{sud['note_id']}", headers=colleague.h), 403)
    listed = (await http.get(f"/v1/clients/{c.user_id}/notes", headers=colleague.h)).json()
    assert [n["note_id"] for n in listed["items"]] == [plain["note_id"]]

    part2 = await care.consent(c, colleague, covers_sud=True, days=10)
    r = await http.get(f"/v1/notes/{sud['note_id']}", headers=colleague.h)
    assert r.status_code == 200, r.text
    assert "42 CFR part 2" in r.json()["redisclosure_notice"]

    # The client lists who received what, when.
    acc = (await http.get(f"/v1/clients/{c.user_id}/disclosures", headers=c.h)).json()["items"]
    got = {(d["note_id"], d["recipient_id"], d["consent_id"], d["sud"]) for d in acc}
    assert (sud["note_id"], colleague.user_id, part2["consent_id"], True) in got
    assert all(d["disclosed_at"] and d["purpose"] == "treatment" for d in acc)
    # Nobody else reads the accounting.
    assert_problem(await http.get(f"/v1/clients/{c.user_id}/disclosures", headers=colleague.h), 403)

    # An expired consent discloses nothing (11 days later).
    moved.offset = timedelta(days=11)
    assert_problem(await http.get(f"/v1/notes/{sud['note_id']}", headers=colleague.h), 403)
    consents = (await http.get(f"/v1/clients/{c.user_id}/consents", headers=c.h)).json()
    status = {x["consent_id"]: x["status"] for x in consents["items"]}
    assert status[part2["consent_id"]] == "expired"


async def test_consent_is_the_clients_to_give(care, http):
    t, c = await care.staff(0), await care.client()
    r = await http.post(
        f"/v1/clients/{c.user_id}/consents",
        headers=t.h,
        json={"recipient_id": t.user_id, "purpose": "x", "expires_at": "2099-01-01T00:00:00Z"},
    )
    assert_problem(r, 403)
    r = await http.post(
        f"/v1/clients/{c.user_id}/consents",
        headers=c.h,
        json={"recipient_id": t.user_id, "purpose": "x", "expires_at": "2001-01-01T00:00:00Z"},
    )
    assert_problem(r, 422)


async def test_break_glass_is_time_limited_and_demands_review(care, http, stack, moved):
    author, colleague, c = await care.staff(0), await care.staff(1), await care.client()
    appt = await care.book(c, author)
    note = await care.note(author, c, appt, sud=True)
    psycho = await care.note(author, c, appt, kind="psychotherapy")
    assert_problem(await http.get(f"/v1/notes/{note['note_id']}", headers=colleague.h), 403)

    nc = await nats.connect(stack.deps.nats_url)
    js = nc.jetstream()
    r = await http.post(
        f"/v1/clients/{c.user_id}/break-glass",
        headers=colleague.h,
        json={"reason": "client in crisis, author unreachable", "minutes": 30},
    )
    assert r.status_code == 201, r.text
    grant = r.json()
    try:
        # The review event, from the stream (ids only).
        async def event():
            sub = await js.subscribe(
                "rapport.notes.break_glass_used", ordered_consumer=True, deliver_policy="all"
            )
            try:
                while True:
                    msg = await sub.next_msg(timeout=5)
                    e = ev.BreakGlassUsed.FromString(msg.data)
                    if e.grant_id == grant["grant_id"]:
                        return e
            finally:
                await sub.unsubscribe()

        e = await wait_for(event, what="break_glass_used")
        assert e.review_required and e.therapist_id == colleague.user_id
        assert b"crisis" not in msg_bytes(e)
    finally:
        await nc.close()

    r = await http.get(f"/v1/notes/{note['note_id']}", headers=colleague.h)
    assert r.status_code == 200 and r.json()["access"] == "break_glass"
    assert r.json()["redisclosure_notice"]
    # Never psychotherapy notes, not even in an emergency.
    assert_problem(await http.get(f"/v1/notes/{psycho['note_id']}", headers=colleague.h), 403)
    acc = (await http.get(f"/v1/clients/{c.user_id}/disclosures", headers=c.h)).json()["items"]
    assert any(d["basis"] == "break_glass" and d["note_id"] == note["note_id"] for d in acc)
    # 31 minutes later the glass is whole again.
    moved.offset = timedelta(minutes=31)
    assert_problem(await http.get(f"/v1/notes/{note['note_id']}", headers=colleague.h), 403)


async def test_break_glass_needs_a_reason_and_the_clients_clinic(care, http):
    c = await care.client()
    t = await care.staff(0)
    await care.book(c, t)
    r = await http.post(
        f"/v1/clients/{c.user_id}/break-glass", headers=t.h, json={"reason": " ", "minutes": 5}
    )
    assert_problem(r, 422)
    r = await http.post(
        f"/v1/clients/{c.user_id}/break-glass",
        headers=t.h,
        json={"reason": "emergency", "minutes": 100000},
    )
    assert_problem(r, 422)
    r = await http.post(
        f"/v1/clients/{c.user_id}/break-glass",
        headers=care.admin.h,
        json={"reason": "emergency", "minutes": 5},
    )
    assert_problem(r, 403)


def msg_bytes(message) -> bytes:
    return message.SerializeToString()

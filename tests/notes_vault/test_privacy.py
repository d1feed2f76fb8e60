"""A known note text goes through every path (write, edit, sign, amend, reads allowed and
refused, consent, break-glass, measures, bad input) and is then looked for in every log record,
every span, every event on the notes stream and every document notes-vault stored in clear.
It must be nowhere."""

from __future__ import annotations

import json
import logging

import nats

from tests.notes_vault.helpers import marker, soap
from tests.people import assert_problem


async def test_note_text_never_reaches_logs_spans_events_or_clear_fields(
    care, http, notes_db, stack, telemetry, caplog
):
    caplog.set_level(logging.DEBUG)
    secret = marker()
    t, colleague, c = await care.staff(0), await care.staff(1), await care.client()
    appt = await care.book(c, t)
    await care.book(c, colleague)
    draft = await care.note(t, c, appt, marker=secret, sign=False, sud=True)
    r = await http.put(
        f"/v1/notes/{draft['note_id']}", headers=t.h, json={"sections": soap(secret + "2")}
    )
    assert r.status_code == 200
    await http.post(f"/v1/notes/{draft['note_id']}/sign", headers=t.h)
    r = await http.post(
        f"/v1/notes/{draft['note_id']}/amend", headers=t.h, json={"sections": soap(secret + "3")}
    )
    assert r.status_code == 201
    assert secret in (await http.get(f"/v1/notes/{draft['note_id']}", headers=t.h)).text
    assert_problem(await http.get(f"/v1/notes/{draft['note_id']}", headers=colleague.h), 403)
    # Bad input carrying the text: refused without echoing it.
    r = await http.post(
        f"/v1/clients/{c.user_id}/notes",
        headers=t.h,
        json={"appointment_id": appt, "kind": "progress", "body": secret * 2000},
    )
    assert_problem(r, 422)
    assert secret not in r.text
    r = await http.put(f"/v1/notes/{draft['note_id']}", headers=t.h, json={"body": secret})
    assert_problem(r, 409)
    assert secret not in r.text
    psych = await care.note(t, c, appt, kind="psychotherapy", marker=secret)
    await care.consent(c, colleague, covers_sud=True)
    assert secret in (await http.get(f"/v1/notes/{draft['note_id']}", headers=colleague.h)).text
    r = await http.post(
        f"/v1/clients/{c.user_id}/break-glass",
        headers=colleague.h,
        json={"reason": f"emergency {secret}", "minutes": 5},
    )
    assert r.status_code == 201
    grant_id = r.json()["grant_id"]
    # The clinic admin's review opens the reason (it may describe the client) and records.
    listed = await http.get(f"/v1/clinics/{care.admin.clinic_id}/break-glass", headers=care.admin.h)
    assert listed.status_code == 200 and secret in listed.text
    reviewed = await http.post(
        f"/v1/break-glass/{grant_id}/review", headers=care.admin.h, json={"outcome": "justified"}
    )
    assert reviewed.status_code == 200 and secret in reviewed.text
    assert_problem(await http.get(f"/v1/notes/{psych['note_id']}", headers=colleague.h), 403)
    r = await http.post(
        f"/v1/clients/{c.user_id}/measures",
        headers=c.h,
        json={
            "instrument": "PHQ9",
            "answers": [3, 3, 3, 3, 3, 3, 3, 3, 1],
            "therapist_id": t.user_id,
        },
    )
    assert r.status_code == 201 and "safety" in r.json()["flags"]

    # Logs: every record, formatted, with its arguments.
    for record in caplog.records:
        assert secret not in record.getMessage(), record.name
        assert secret not in str(record.args)
    # Spans: names, attributes, events, statuses.
    for span in telemetry.finished():
        blob = json.dumps(
            {
                "name": span.name,
                "attributes": dict(span.attributes or {}),
                "events": [(e.name, dict(e.attributes or {})) for e in span.events],
                "status": span.status.description,
            },
            default=str,
        )
        assert secret not in blob, span.name
    # Events: every message on the notes stream, body and headers.
    nc = await nats.connect(stack.deps.nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("RAPPORT_NOTES")
        assert info.state.messages > 0
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg("RAPPORT_NOTES", seq)
            assert secret.encode() not in (msg.data or b"")
            assert secret not in json.dumps(msg.headers or {})
    finally:
        await nc.close()
    # Stored documents: the text is only ever inside AES-GCM ciphertext.
    for name in await notes_db.list_collection_names():
        async for doc in notes_db[name].find({}):
            for key in ("ciphertext", "reason_ciphertext"):
                doc.pop(key, None)
            assert secret not in json.dumps(doc, default=str), name

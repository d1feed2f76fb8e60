"""Emergency access is reviewed afterwards: the clinic's admin (MFA) lists its clinic's
break-glass grants with the reason opened and the records read under each, and records once
whether each was justified. Nobody else sees the list; every reason shown and the review are in
the audit chain; bad input changes nothing."""

from __future__ import annotations

from datetime import timedelta

from tests.notes_vault.helpers import Care
from tests.people import assert_problem


async def all_grants(http, admin, status: str) -> list[dict]:
    """Every page, one grant per page (the cursor is exercised on the way)."""
    items: list[dict] = []
    cursor = ""
    while True:
        params = {"status": status, "limit": 1} | ({"cursor": cursor} if cursor else {})
        r = await http.get(
            f"/v1/clinics/{admin.clinic_id}/break-glass", headers=admin.h, params=params
        )
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return items


def exported(telemetry) -> int:
    for rm in telemetry.metrics.get_metrics_data().resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name == "rapport.notes.break_glass.unreviewed":
                    return sum(p.value for p in m.data.data_points)
    raise AssertionError("rapport.notes.break_glass.unreviewed is not exported")


async def ended_and_unreviewed(service, moved) -> int:
    """The jobs round's count, once the 30-minute grants have ended (the clock moved for it)."""
    moved.offset = timedelta(minutes=31)
    try:
        return await service.count_unreviewed()
    finally:
        moved.offset = timedelta(0)


async def test_the_clinic_admin_reviews_each_emergency_access_once(
    care, http, notes_db, service, moved, telemetry
):
    t, colleague, c = await care.staff(0), await care.staff(1), await care.client()
    appt = await care.book(c, t)
    await care.book(c, colleague)  # the client is seen in the clinic
    note = await care.note(t, c, appt)
    admin = care.admin

    grants = []
    for reason in ("client unreachable, safety plan needed", "covering the weekend"):
        r = await http.post(
            f"/v1/clients/{c.user_id}/break-glass",
            headers=colleague.h,
            json={"reason": reason, "minutes": 30},
        )
        assert r.status_code == 201, r.text
        grants.append(r.json()["grant_id"])
    # Under the grants the colleague opens the note: one record read.
    assert (await http.get(f"/v1/notes/{note['note_id']}", headers=colleague.h)).status_code == 200

    pending = {g["grant_id"]: g for g in await all_grants(http, admin, "pending")}
    first, second = pending[grants[0]], pending[grants[1]]
    assert first["client_id"] == c.user_id and first["therapist_id"] == colleague.user_id
    assert first["reason"] == "client unreachable, safety plan needed"
    assert second["reason"] == "covering the weekend"
    assert first["records_read"] == 1 and second["records_read"] == 1
    assert first["reviewed_at"] is None and first["review_outcome"] is None
    order = [g for g in pending if g in grants]
    assert order == [grants[1], grants[0]]  # newest first
    # Once ended, they await review: the gauge an alert watches counts them.
    waiting = await ended_and_unreviewed(service, moved)
    assert waiting >= 2 and exported(telemetry) == waiting

    # Nobody else lists them or reviews them; each refusal is audited and changes nothing.
    url = f"/v1/clinics/{admin.clinic_id}/break-glass"
    review = f"/v1/break-glass/{grants[0]}/review"
    other = await Care(http, notes_db).open()
    assert_problem(await http.get(url), 401)
    assert_problem(await http.post(review, json={"outcome": "justified"}), 401)
    for who in (c, t, colleague, other.admin):
        assert_problem(await http.get(url, headers=who.h), 403)
        assert_problem(await http.post(review, headers=who.h, json={"outcome": "justified"}), 403)
    # Another clinic's admin lists their own clinic: none of these grants.
    own = await all_grants(http, other.admin, "all")
    assert not {g["grant_id"] for g in own} & set(grants)
    # Bad input: a clear 4xx, nothing recorded.
    assert_problem(await http.post(review, headers=admin.h, json={"outcome": "fine"}), 422)
    assert_problem(await http.post(review, headers=admin.h, json={}), 422)
    unknown = "/v1/break-glass/no-such-grant/review"
    assert_problem(await http.post(unknown, headers=admin.h, json={"outcome": "justified"}), 404)
    assert_problem(await http.get(url, headers=admin.h, params={"status": "later"}), 422)
    stored = await notes_db["break_glass"].find_one({"_id": grants[0]})
    assert stored.get("reviewed_at") is None

    r = await http.post(review, headers=admin.h, json={"outcome": "justified"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["review_outcome"] == "justified" and done["reviewed_by"] == admin.user_id
    assert done["reviewed_at"] is not None and done["reason"] == first["reason"]
    # Once: a second review (another verdict) is refused and the first stands.
    assert_problem(await http.post(review, headers=admin.h, json={"outcome": "unjustified"}), 409)
    r = await http.post(
        f"/v1/break-glass/{grants[1]}/review", headers=admin.h, json={"outcome": "unjustified"}
    )
    assert r.status_code == 200 and r.json()["review_outcome"] == "unjustified", r.text

    assert await ended_and_unreviewed(service, moved) == waiting - 2
    assert exported(telemetry) == waiting - 2
    still = {g["grant_id"] for g in await all_grants(http, admin, "pending")}
    assert not still & set(grants)
    everything = {g["grant_id"]: g for g in await all_grants(http, admin, "all")}
    assert everything[grants[0]]["review_outcome"] == "justified"
    assert everything[grants[1]]["review_outcome"] == "unjustified"

    # The audit chain: each reason shown, each refusal and the reviews; no reason text.
    entries = [e async for e in notes_db["audit"].find({"resource_id": {"$in": grants}})]
    actions = [(e["action"], e["outcome"], e["actor_id"]) for e in entries]
    assert ("break_glass.read", "allowed", admin.user_id) in actions
    assert ("break_glass.review", "denied", t.user_id) in actions
    assert ("break_glass.review", "denied", other.admin.user_id) in actions
    reviews = [
        e for e in entries if e["action"] == "break_glass.review" and e["outcome"] == "allowed"
    ]
    assert sorted(e["detail"] for e in reviews) == ["justified", "unjustified"]
    assert all("safety plan" not in str(e) for e in entries)
    denied = await notes_db["audit"].find_one(
        {"action": "break_glass.list", "outcome": "denied", "actor_id": c.user_id}
    )
    assert denied is not None

"""Business rules an attack review found missing (issue 13): the late-fee waiver does not survive
the client's own move; a client's active bookings are bounded per therapist and overall."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.people import assert_problem
from tests.scheduling.helpers import Practice, on_grid, rfc3339
from tests.waiting import eventually


async def test_the_client_s_own_move_clears_the_late_fee_waiver(practice, http):
    t = await practice.therapist()
    c = await practice.client()
    a = (await practice.book(c, t, on_grid(datetime.now(UTC) + timedelta(days=4)))).json()
    # The therapist moves it once, far away: the client is owed a free cancellation for now.
    r = await http.post(
        f"/v1/appointments/{a['appointment_id']}/reschedule",
        headers=t.h,
        json={"start": rfc3339(on_grid(datetime.now(UTC) + timedelta(days=6)))},
    )
    assert r.status_code == 200, r.text
    # The client moves it into the cancellation window themself, then cancels: late, billable.
    soon = on_grid(datetime.now(UTC) + timedelta(hours=5), 15)
    r = await http.post(
        f"/v1/appointments/{a['appointment_id']}/reschedule",
        headers=c.h,
        json={"start": rfc3339(soon)},
    )
    assert r.status_code == 200, r.text
    # Inside the window again, the client may not move it away either.
    problem = assert_problem(
        await http.post(
            f"/v1/appointments/{a['appointment_id']}/reschedule",
            headers=c.h,
            json={"start": rfc3339(on_grid(datetime.now(UTC) + timedelta(days=9)))},
        ),
        409,
    )
    assert "cancel" in problem["detail"]
    r = await http.post(f"/v1/appointments/{a['appointment_id']}/cancel", headers=c.h, json={})
    assert r.status_code == 200, r.text
    assert r.json()["late_cancellation"] is True
    assert r.json()["late_fee_minor"] == practice.LATE_FEE


async def test_a_client_s_active_bookings_are_bounded_per_therapist_and_per_clinic(http, sched_db):
    practice = await Practice(http).open(
        max_active_bookings_per_therapist=2, max_active_bookings_per_client=3
    )
    t1, t2 = await practice.therapist(), await practice.therapist()
    c = await practice.client()
    base = on_grid(datetime.now(UTC) + timedelta(days=3))
    booked = []
    for i in range(2):
        r = await practice.book(c, t1, base + timedelta(hours=2 * i))
        assert r.status_code == 201, r.text
        booked.append(r.json()["appointment_id"])
    before = await sched_db["appointments"].count_documents({"client_id": c.user_id})
    problem = assert_problem(await practice.book(c, t1, base + timedelta(hours=6)), 409)
    assert "at most 2" in problem["detail"] and problem["field"] == "therapist_id"
    # A hold is a booking too (it blocks the time just the same).
    assert_problem(await practice.book(c, t1, base + timedelta(hours=6), hold=True), 409)
    assert await sched_db["appointments"].count_documents({"client_id": c.user_id}) == before

    # Another therapist of the clinic: one more, then the clinic's own bound.
    r = await practice.book(c, t2, base + timedelta(hours=1))
    assert r.status_code == 201, r.text
    problem = assert_problem(await practice.book(c, t2, base + timedelta(hours=3)), 409)
    assert "at most 3" in problem["detail"]

    # A cancelled session no longer counts (nor would one that is over).
    r = await http.post(f"/v1/appointments/{booked[0]}/cancel", headers=c.h, json={})
    assert r.status_code == 200, r.text
    r = await practice.book(c, t1, base + timedelta(hours=6))
    assert r.status_code == 201, r.text


async def test_parallel_bookings_cannot_race_past_the_limit(http, sched_db):
    practice = await Practice(http).open(
        max_active_bookings_per_therapist=2, max_active_bookings_per_client=2
    )
    t = await practice.therapist()
    c = await practice.client()
    base = on_grid(datetime.now(UTC) + timedelta(days=5))
    answers = await asyncio.gather(
        *(practice.book(c, t, base + timedelta(hours=2 * i)) for i in range(6))
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [201, 201, 409, 409, 409, 409], [r.text for r in answers]
    assert await sched_db["appointments"].count_documents({"client_id": c.user_id}) == 2


async def test_founding_a_clinic_revokes_the_client_token_and_keeps_the_bookings(
    practice, http, stack
):
    t = await practice.therapist()
    c = await practice.client()
    start = on_grid(datetime.now(UTC) + timedelta(days=6))
    a = (await practice.book(c, t, start)).json()
    old = dict(c.h)
    r = await http.post(
        "/v1/clinics",
        headers=old,
        json={
            "name": "Second Practice",
            "currency": "USD",
            "timezone": "UTC",
            "commission_bps": 1000,
            "cancellation_window_hours": 24,
            "late_cancellation_fee_minor": 0,
        },
    )
    assert r.status_code == 201, r.text

    # The old client token cannot book any more: at once (identity checks the version itself).
    before = await practice.http.get("/v1/appointments", headers=t.h)
    r = await practice.book(c, t, start + timedelta(hours=3))
    assert_problem(r, 401)
    assert_problem(await http.get("/v1/me", headers=old), 401)

    # Scheduling's own check (its cached revocation list) refuses it within a few seconds.
    async def refused() -> bool:
        return (await http.get("/v1/appointments", headers=old)).status_code == 401

    await eventually(refused, what="scheduling refuses the revoked token")
    after = await practice.http.get("/v1/appointments", headers=t.h)
    assert len(after.json()["items"]) == len(before.json()["items"])

    # Signed in again as the clinic's admin, the founder still sees and cancels their booking.
    await practice.login(c)
    mine = (await http.get("/v1/appointments", headers=c.h)).json()["items"]
    assert [i["appointment_id"] for i in mine] == [a["appointment_id"]]
    r = await http.post(f"/v1/appointments/{a['appointment_id']}/cancel", headers=c.h, json={})
    assert r.status_code == 200, r.text
    assert r.json()["cancelled_by"] == "client"
    # ...but cannot book as a client any more.
    assert_problem(await practice.book(c, t, start + timedelta(hours=6)), 403)

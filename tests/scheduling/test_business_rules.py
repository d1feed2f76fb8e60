"""Business rules an attack review found missing (issue 13): the late-fee waiver does not survive
the client's own move; a client's active bookings are bounded per therapist and overall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.people import assert_problem
from tests.scheduling.helpers import on_grid, rfc3339


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

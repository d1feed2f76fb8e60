"""A clinic's admin changes its booking terms after founding (PATCH /v1/clinics/{id}/terms):
only that admin or a platform operator, validated, and scheduling applies the new limits and
cancellation policy to the next booking at once (it reads them from identity at each booking)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from pymongo import AsyncMongoClient

from tests.identity import operators
from tests.people import assert_problem
from tests.scheduling.helpers import Practice, on_grid


async def test_the_clinic_s_admin_changes_its_booking_terms_and_bookings_follow(stack):
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        practice = await Practice(http).open(
            max_active_bookings_per_therapist=1, max_active_bookings_per_client=1
        )
        admin = practice.admin
        assert admin is not None
        t = await practice.therapist()
        c = await practice.client()
        base = on_grid(datetime.now(UTC) + timedelta(days=3))
        first = await practice.book(c, t, base)
        assert first.status_code == 201, first.text
        assert (
            "at most 1"
            in assert_problem(await practice.book(c, t, base + timedelta(hours=2)), 409)["detail"]
        )

        url = f"/v1/clinics/{admin.clinic_id}/terms"
        r = await http.patch(
            url,
            headers=admin.h,
            json={"max_active_bookings_per_therapist": 2, "max_active_bookings_per_client": 4},
        )
        assert r.status_code == 200, r.text
        terms = r.json()
        assert terms["max_active_bookings_per_therapist"] == 2
        assert terms["max_active_bookings_per_client"] == 4
        # Unchanged fields keep their value.
        assert terms["cancellation_window_hours"] == Practice.WINDOW_HOURS
        assert terms["late_cancellation_fee_minor"] == Practice.LATE_FEE
        # Anyone signed in reads the new terms (what a client needs to book).
        seen = (await http.get(f"/v1/clinics/{admin.clinic_id}", headers=c.h)).json()
        assert seen["max_active_bookings_per_therapist"] == 2

        # Scheduling applies them to the next booking: one more now, then the new bound.
        second = await practice.book(c, t, base + timedelta(hours=2))
        assert second.status_code == 201, second.text
        problem = assert_problem(await practice.book(c, t, base + timedelta(hours=4)), 409)
        assert "at most 2" in problem["detail"]

        # The cancellation policy: a zero window, no fee, for sessions booked from now on; a
        # session booked earlier keeps the policy it was booked under.
        r = await http.patch(
            url,
            headers=admin.h,
            json={"cancellation_window_hours": 0, "late_cancellation_fee_minor": 0},
        )
        assert r.status_code == 200, r.text
        soon = on_grid(datetime.now(UTC) + timedelta(hours=3), 15)
        c2 = await practice.client()
        booked = await practice.book(c2, t, soon)
        assert booked.status_code == 201, booked.text
        r = await http.post(
            f"/v1/appointments/{booked.json()['appointment_id']}/cancel", headers=c2.h, json={}
        )
        assert r.status_code == 200, r.text
        assert r.json()["late_cancellation"] is False and r.json()["late_fee_minor"] == 0


async def test_only_the_clinic_s_admin_or_an_operator_changes_terms_and_bad_terms_change_nothing(
    stack,
):
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        practice = await Practice(http).open()
        admin = practice.admin
        assert admin is not None
        other = await Practice(http).open()
        assert other.admin is not None
        t = await practice.therapist()
        c = await practice.client()
        url = f"/v1/clinics/{admin.clinic_id}/terms"
        body = {"max_active_bookings_per_therapist": 7}

        client = AsyncMongoClient(stack.deps.mongo_uri, tz_aware=True)
        try:
            clinics = client[stack.identity.settings.mongo_db]["clinics"]
            before = await clinics.find_one({"_id": admin.clinic_id})

            assert_problem(await http.patch(url, json=body), 401)
            for who in (c, t, other.admin):
                for refused in (body, {"commission_bps": 9000}):
                    assert_problem(await http.patch(url, headers=who.h, json=refused), 403)
            # Bad input: a clear 422 naming the field, nothing written.
            for bad, field in (
                ({"max_active_bookings_per_therapist": 201}, "max_active_bookings_per_therapist"),
                ({"cancellation_window_hours": -1}, "cancellation_window_hours"),
                ({"commission_bps": 10_001}, "commission_bps"),
                ({"commission_bps": -1}, "commission_bps"),
                # Checked against the stored terms: per client below per therapist.
                (
                    {"max_active_bookings_per_therapist": 5, "max_active_bookings_per_client": 3},
                    "max_active_bookings_per_client",
                ),
            ):
                problem = assert_problem(await http.patch(url, headers=admin.h, json=bad), 422)
                assert problem["field"] == field, problem
            assert await clinics.find_one({"_id": admin.clinic_id}) == before

            # A platform operator (multi-factor) may; an unknown clinic is 404 to them.
            op = await operators.operator(http)
            r = await http.patch(url, headers=op.h, json=body)
            if r.status_code == 401:  # the shared operator's token expired: refresh keeps MFA
                tokens = (
                    await http.post("/v1/auth/refresh", json={"refresh_token": op.refresh})
                ).json()
                op.access, op.refresh = tokens["access_token"], tokens["refresh_token"]
                r = await http.patch(url, headers=op.h, json=body)
            assert r.status_code == 200, r.text
            assert r.json()["max_active_bookings_per_therapist"] == 7
            assert (await clinics.find_one({"_id": admin.clinic_id}))[
                "max_active_per_therapist"
            ] == 7
            assert_problem(
                await http.patch("/v1/clinics/no-such-clinic/terms", headers=op.h, json=body), 404
            )
        finally:
            await client.close()

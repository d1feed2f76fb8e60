"""Bad input through the gateway: each a clear 4xx problem+json, and nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.people import assert_problem
from tests.scheduling.helpers import on_grid, rfc3339


async def snapshot(sched_db) -> dict:
    """What requests write, to compare before and after a refused one. The outbox is compared
    by record (the relay marks them published meanwhile) and hold claims are left out (the TTL
    sweep may remove expired ones at any time)."""
    out: dict = {}
    for name in ("availability", "appointments", "reminders", "idempotency_keys"):
        out[name] = sorted([d async for d in sched_db[name].find({})], key=lambda d: str(d["_id"]))
    out["claims"] = sorted([d["_id"] async for d in sched_db["claims"].find({"expires_at": None})])
    out["outbox"] = sorted([d["_id"] async for d in sched_db["outbox"].find({})])
    return out


@pytest.fixture(scope="module")
async def setting(practice):
    t = await practice.therapist(
        availability=practice.availability(
            timezone="Europe/Paris",
            weekly=[{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(7)],
            min_notice_minutes=24 * 60,
            horizon_days=14,
            slot_step_minutes=30,
        )
    )
    c = await practice.client()
    return t, c


AVAILABILITY_CASES = [
    ({"timezone": "Mars/Olympus_Mons"}, "timezone", 422),
    ({"timezone": "EST5EDT-ish"}, "timezone", 422),
    (
        {
            "weekly": [
                {"weekday": 0, "start": "09:00", "end": "12:00"},
                {"weekday": 0, "start": "11:00", "end": "13:00"},
            ]
        },
        "weekly",
        422,
    ),
    ({"weekly": [{"weekday": 1, "start": "17:00", "end": "09:00"}]}, "weekly[0].end", 422),
    ({"weekly": [{"weekday": 1, "start": "9h", "end": "17:00"}]}, "weekly[0].start", 422),
    ({"weekly": [{"weekday": 9, "start": "09:00", "end": "17:00"}]}, None, 422),
    (
        {"time_off": [{"start": "2031-01-02T10:00:00+00:00", "end": "2031-01-01T10:00:00+00:00"}]},
        "time_off[0].end",
        422,
    ),
    ({"time_off": [{"start": "2031-01-01T10:00:00", "end": "2031-01-02T10:00:00"}]}, None, 422),
    ({"overrides": [{"date": "2031-02-30", "windows": []}]}, "overrides[0].date", 422),
    ({"buffer_minutes": 7}, "buffer_before_minutes", 422),
    ({"horizon_days": 0}, None, 422),
    ({"surprise": True}, None, 422),
]


@pytest.mark.parametrize(("change", "field", "status"), AVAILABILITY_CASES)
async def test_bad_availability(practice, http, sched_db, setting, change, field, status):
    t, _ = setting
    body = {**practice.availability(), **change}
    before = await snapshot(sched_db)
    r = await http.put(f"/v1/therapists/{t.user_id}/availability", headers=t.h, json=body)
    problem = assert_problem(r, status)
    if field:
        assert problem["field"] == field
    assert await snapshot(sched_db) == before


async def test_availability_of_someone_else(practice, http, sched_db, setting):
    t, c = setting
    other = await practice.therapist()
    before = await snapshot(sched_db)
    url = f"/v1/therapists/{t.user_id}/availability"
    assert_problem(await http.put(url, headers=other.h, json=practice.availability()), 403)
    assert_problem(await http.put(url, headers=c.h, json=practice.availability()), 403)
    assert_problem(await http.put(url, json=practice.availability()), 401)
    assert await snapshot(sched_db) == before


async def test_bad_bookings(practice, http, sched_db, setting):
    t, c = setting
    now = datetime.now(UTC)
    good = on_grid(now + timedelta(days=3), 24 * 60) + timedelta(hours=9)  # 10:00 in Paris
    cases = [
        (good + timedelta(minutes=7), "not one of"),  # off the 30-minute grid
        (good.replace(hour=22), "not one of"),  # outside the day's hours
        (on_grid(now - timedelta(days=1)), "past"),
        (on_grid(now + timedelta(hours=2), 30), "minimum notice"),
        (good + timedelta(days=20), "horizon"),
    ]
    before = await snapshot(sched_db)
    for start, words in cases:
        problem = assert_problem(await practice.book(c, t, start), 422)
        assert problem["field"] == "start" and words in problem["detail"], problem
    assert_problem(await practice.book(c, t, good, modality="phone"), 422)
    assert_problem(await practice.book(c, t, good, session_type="hypnosis"), 422)
    r = await http.post(
        "/v1/appointments",
        headers=c.h,
        json={
            "therapist_id": t.user_id,
            "session_type": "talk-50",
            "modality": "video",
            "start": "2031-01-01T10:00:00",
        },
    )
    assert_problem(r, 422)  # no offset
    r = await http.post(
        "/v1/appointments", headers=c.h, json={"therapist_id": t.user_id, "modality": "video"}
    )
    assert {e["field"] for e in assert_problem(r, 422)["errors"]} == {"session_type", "start"}
    nobody = await practice.therapist(availability={"timezone": "UTC", "weekly": []})
    assert_problem(await practice.book(c, nobody, good), 422)  # no slot ever
    problem = assert_problem(
        await http.post(
            "/v1/appointments",
            headers=c.h,
            json={
                "therapist_id": "no-such-therapist",
                "session_type": "talk-50",
                "modality": "video",
                "start": rfc3339(good),
            },
        ),
        404,
    )
    assert problem["field"] == "therapist_id"
    headers = {**c.h, "Idempotency-Key": "k" * 300}
    r = await http.post(
        "/v1/appointments",
        headers=headers,
        json={
            "therapist_id": t.user_id,
            "session_type": "talk-50",
            "modality": "video",
            "start": rfc3339(good),
        },
    )
    assert_problem(r, 422)
    after = await snapshot(sched_db)
    # The therapist made above wrote their own availability; nothing else changed.
    after["availability"] = [d for d in after["availability"] if d["_id"] != nobody.user_id]
    assert after == before
    assert (await practice.book(c, t, good)).status_code == 201  # the good one was fine


async def test_bad_slot_queries(practice, http, setting):
    t, c = setting
    now = datetime.now(UTC)
    url = f"/v1/therapists/{t.user_id}/slots"
    base = {"from": rfc3339(now), "to": rfc3339(now + timedelta(days=2)), "session_type": "talk-50"}
    cases = [
        ({"to": rfc3339(now - timedelta(days=1))}, "to"),
        ({"to": rfc3339(now + timedelta(days=40))}, "to"),
        ({"timezone": "Atlantis/Capital"}, "timezone"),
        ({"session_type": "hypnosis"}, "session_type"),
    ]
    for change, field in cases:
        problem = assert_problem(await http.get(url, headers=c.h, params={**base, **change}), 422)
        assert problem["field"] == field
    assert_problem(await http.get(url, headers=c.h, params={**base, "from": "tomorrow"}), 422)
    assert_problem(await http.get(url, headers=c.h, params={**base, "cursor": "@@@"}), 422)
    stranger = await practice.register("therapist", jurisdiction="")
    assert_problem(
        await http.get(f"/v1/therapists/{stranger.user_id}/slots", headers=c.h, params=base), 404
    )
    assert_problem(await http.get(url, params=base), 401)


async def test_bad_reschedules(practice, http, sched_db, setting):
    t, c = setting
    start = on_grid(datetime.now(UTC) + timedelta(days=5), 24 * 60) + timedelta(hours=10)
    a = (await practice.book(c, t, start)).json()
    url = f"/v1/appointments/{a['appointment_id']}/reschedule"
    before = await snapshot(sched_db)
    for new, words in [
        (start + timedelta(minutes=10), "not one of"),
        (on_grid(datetime.now(UTC) - timedelta(hours=3), 30), "past"),
        (start, "current start"),
    ]:
        problem = assert_problem(
            await http.post(url, headers=c.h, json={"start": rfc3339(new)}), 422
        )
        assert words in problem["detail"]
    stranger = await practice.client()
    assert_problem(
        await http.post(
            url, headers=stranger.h, json={"start": rfc3339(start + timedelta(hours=1))}
        ),
        403,
    )
    assert_problem(await http.post(url, headers=c.h, json={}), 422)
    assert await snapshot(sched_db) == before

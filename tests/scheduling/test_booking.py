"""Availability, slots, booking, idempotency and holds, through the gateway (and gRPC where a
replica with a later clock shows what time does to a hold)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.events.v1 import scheduling_pb2 as ev
from rapport.scheduling.v1 import scheduling_pb2 as pb
from rapport_platform.rpc import bearer

from tests.people import assert_problem
from tests.scheduling.helpers import in_flight_at_once, on_grid, parse, rfc3339


def ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


async def outbox(db, subject: str, cls, appointment_id: str) -> list:
    found = []
    async for doc in db["outbox"].find({"subject": subject}):
        msg = cls.FromString(bytes(doc["data"]))
        if msg.appointment.appointment_id == appointment_id:
            found.append(msg)
    return found


async def test_availability_round_trip_and_slots_in_the_clients_zone(practice, http):
    t = await practice.therapist(
        availability=practice.availability(
            timezone="America/New_York",
            weekly=[{"weekday": d, "start": "09:00", "end": "12:00"} for d in range(5)],
            overrides=[],
            buffer_before_minutes=10,
            buffer_after_minutes=5,
            slot_step_minutes=30,
        )
    )
    r = await http.get(f"/v1/therapists/{t.user_id}/availability", headers=t.h)
    assert r.status_code == 200, r.text
    av = r.json()
    assert av["timezone"] == "America/New_York" and len(av["weekly"]) == 5
    assert (av["buffer_before_minutes"], av["buffer_after_minutes"]) == (10, 5)

    c = await practice.client()
    start = datetime.now(UTC) + timedelta(days=2)
    r = await http.get(
        f"/v1/therapists/{t.user_id}/slots",
        headers=c.h,
        params={
            "from": rfc3339(start),
            "to": rfc3339(start + timedelta(days=7)),
            "session_type": "talk-50",
            "timezone": "Europe/Paris",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["duration_minutes"] == 50 and body["timezone"] == "Europe/Paris"
    items = body["items"]
    assert len(items) == 5 * 5  # 09:00 ... 11:00 every 30 min, five weekdays (50 min each)
    for item in items:
        s = parse(item["start"])
        assert parse(item["end"]) - s == timedelta(minutes=50)
        local = parse(item["local_start"])
        assert local == s and local.utcoffset() in (timedelta(hours=1), timedelta(hours=2))


async def test_book_and_the_slot_is_gone_with_its_buffers(practice, http, sched_db):
    t = await practice.therapist(
        availability=practice.availability(buffer_minutes=15, slot_step_minutes=15)
    )
    c = await practice.client()
    start = on_grid(datetime.now(UTC) + timedelta(days=3))
    day = (start - timedelta(hours=3), start + timedelta(hours=3))
    before = await practice.slots(c, t, *day)
    assert start in before

    r = await practice.book(c, t, start, session_type="talk-50")
    assert r.status_code == 201, r.text
    appt = r.json()
    assert appt["status"] == "confirmed" and parse(appt["start"]) == start
    assert parse(appt["end"]) == start + timedelta(minutes=50)
    assert (appt["price_minor"], appt["currency"]) == (9000, "USD")
    assert appt["client_id"] == c.user_id and appt["clinic_id"] == practice.admin.clinic_id

    after = await practice.slots(c, t, *day)
    # Padded: [start - 15, start + 65). Another 50-minute session, padded the same way, must
    # start at least 80 minutes after or before it: on the 15-minute grid, 90.
    blocked = [s for s in before if s not in after]
    assert min(blocked) == start - timedelta(minutes=75)
    assert max(blocked) == start + timedelta(minutes=75)
    assert start + timedelta(minutes=90) in after and start - timedelta(minutes=90) in after

    # A second client asking for an overlapping time gets 409, and nothing is written.
    other = await practice.client()
    count = await sched_db["appointments"].count_documents({})
    problem = assert_problem(await practice.book(other, t, start + timedelta(minutes=45)), 409)
    assert problem["field"] == "start"
    assert await sched_db["appointments"].count_documents({}) == count

    # The event is in the outbox: ids, times, type, price; no names anywhere in it.
    booked = await outbox(
        sched_db,
        "rapport.scheduling.appointment_booked",
        ev.AppointmentBooked,
        appt["appointment_id"],
    )
    assert len(booked) == 1
    e = booked[0]
    assert e.appointment.session_type == "talk-50" and e.appointment.price.amount_minor == 9000
    assert e.appointment.price.currency == "USD" and not e.held
    assert e.appointment.start.ToDatetime(tzinfo=UTC) == start
    raw = e.SerializeToString()
    assert b"Casey" not in raw and b"Jordan" not in raw and c.email.encode() not in raw
    # Reminders at 24 h and 1 h before were recorded with it.
    leads = sorted(
        [
            d["lead_minutes"]
            async for d in sched_db["reminders"].find({"appointment_id": appt["appointment_id"]})
        ]
    )
    assert leads == [60, 1440]


async def test_idempotency_key_replays_and_refuses_a_different_body(
    practice, http, sched_db, telemetry
):
    t = await practice.therapist()
    c = await practice.client()
    start = on_grid(datetime.now(UTC) + timedelta(days=4))
    key = f"k-{uuid.uuid4()}"
    first = await practice.book(c, t, start, key=key)
    assert first.status_code == 201, first.text
    again = await practice.book(c, t, start, key=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()

    count = await sched_db["appointments"].count_documents({"client_id": c.user_id})
    problem = assert_problem(await practice.book(c, t, start + timedelta(hours=2), key=key), 422)
    assert problem["field"] == "idempotency_key"
    assert await sched_db["appointments"].count_documents({"client_id": c.user_id}) == count == 1

    # Concurrent retries with one key: one appointment, every answer the same.
    key2 = f"k-{uuid.uuid4()}"
    later = start + timedelta(hours=5)
    answers = await asyncio.gather(*(practice.book(c, t, later, key=key2) for _ in range(6)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["appointment_id"] for a in answers}) == 1
    assert in_flight_at_once(telemetry, answers) >= 2  # they really were concurrent
    assert await sched_db["appointments"].count_documents({"client_id": c.user_id}) == 2

    # A key is the caller's own: another client's same key books for them.
    c2 = await practice.client()
    r = await practice.book(c2, t, start + timedelta(hours=8), key=key)
    assert r.status_code == 201 and r.json()["client_id"] == c2.user_id


async def test_hold_blocks_until_it_expires_then_anyone_may_take_the_slot(
    practice, http, sched_db, time_travel
):
    t = await practice.therapist()
    c = await practice.client()
    start = on_grid(datetime.now(UTC) + timedelta(days=5))
    r = await practice.book(c, t, start, hold=True)
    assert r.status_code == 201, r.text
    hold = r.json()
    assert hold["status"] == "held" and hold["hold_expires_at"]
    expires = parse(hold["hold_expires_at"])
    # The default hold TTL (600 s), counted from the service's own clock.
    assert expires - parse(hold["created_at"]) == timedelta(minutes=10)

    # Now: the hold blocks the slot for everyone else.
    other = await practice.client()
    window = (start - timedelta(hours=1), start + timedelta(hours=2))
    assert start not in await practice.slots(other, t, *window)
    assert_problem(await practice.book(other, t, start), 409)

    # Eleven minutes later (a replica whose clock runs ahead), the hold blocks nothing,
    # although no TTL sweep has removed its claims yet.
    later, _ = await time_travel(timedelta(minutes=11))
    assert await sched_db["claims"].count_documents({"appointment_id": hold["appointment_id"]})
    reply = await later.ListSlots(
        pb.ListSlotsRequest(
            therapist_id=t.user_id,
            session_type="talk-50",
            start_from=ts(window[0]),
            start_before=ts(window[1]),
        ),
        metadata=bearer(other.access),
    )
    assert start in [s.start.ToDatetime(tzinfo=UTC) for s in reply.slots]
    seen = await later.GetAppointment(
        pb.GetAppointmentRequest(appointment_id=hold["appointment_id"]), metadata=bearer(c.access)
    )
    assert seen.appointment.status == pb.APPOINTMENT_STATUS_EXPIRED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await later.ConfirmAppointment(
            pb.ConfirmAppointmentRequest(appointment_id=hold["appointment_id"]),
            metadata=bearer(c.access),
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    booked = await later.BookAppointment(
        pb.BookAppointmentRequest(
            therapist_id=t.user_id,
            session_type="talk-30",
            start=ts(start + timedelta(minutes=15)),
            modality=pb.MODALITY_CHAT,
        ),
        metadata=bearer(other.access),
    )
    assert booked.appointment.status == pb.APPOINTMENT_STATUS_CONFIRMED
    # The expired hold's overlapping cells now belong to the new booking.
    owners = {
        d["appointment_id"] async for d in sched_db["claims"].find({"therapist_id": t.user_id})
    }
    assert booked.appointment.appointment_id in owners


async def test_confirming_a_live_hold(practice, http, sched_db):
    t = await practice.therapist()
    c = await practice.client()
    start = on_grid(datetime.now(UTC) + timedelta(days=6))
    hold = (await practice.book(c, t, start, hold=True)).json()
    stranger = await practice.client()
    assert_problem(
        await http.post(f"/v1/appointments/{hold['appointment_id']}/confirm", headers=stranger.h),
        403,
    )
    r = await http.post(f"/v1/appointments/{hold['appointment_id']}/confirm", headers=c.h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "confirmed" and r.json()["hold_expires_at"] is None
    claims = [d async for d in sched_db["claims"].find({"appointment_id": hold["appointment_id"]})]
    assert claims and all(d["expires_at"] is None for d in claims)
    assert_problem(
        await http.post(f"/v1/appointments/{hold['appointment_id']}/confirm", headers=c.h), 409
    )


async def test_ineligible_client_and_unknown_session_type(practice, http, sched_db):
    t = await practice.therapist(jurisdictions=("US-CA",))
    start = on_grid(datetime.now(UTC) + timedelta(days=2))
    count = await sched_db["appointments"].count_documents({})
    texan = await practice.client(jurisdiction="US-TX")
    problem = assert_problem(await practice.book(texan, t, start), 403)
    assert problem["field"] == "therapist_id"
    c = await practice.client()
    assert (
        assert_problem(await practice.book(c, t, start, session_type="nope"), 422)["field"]
        == "session_type"
    )
    assert await sched_db["appointments"].count_documents({}) == count
    # Only clients book.
    assert_problem(await practice.book(t, t, start), 403)


async def test_slots_leave_out_time_off_notice_and_horizon(practice):
    now = datetime.now(UTC)
    day2 = on_grid(now + timedelta(days=2), 24 * 60)  # a UTC midnight two days on
    t = await practice.therapist(
        availability=practice.availability(
            weekly=[{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(7)],
            time_off=[
                {
                    "start": rfc3339(day2 + timedelta(hours=11)),
                    "end": rfc3339(day2 + timedelta(hours=14)),
                }
            ],
            min_notice_minutes=24 * 60,
            horizon_days=4,
            slot_step_minutes=60,
        )
    )
    c = await practice.client()
    found = await practice.slots(c, t, now, now + timedelta(days=10), session_type="talk-50")
    assert found and min(found) >= now + timedelta(hours=24)
    assert max(found) < now + timedelta(days=4)
    on_day2 = sorted(s.hour for s in found if s.date() == day2.date())
    assert on_day2 == [9, 10, 14, 15, 16]  # 11:00-14:00 off

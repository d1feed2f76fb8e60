"""The cancellation policy cannot be dodged by moving a session, a hold never outlives its start,
and far-off or forged times are answered with 422, not 500."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.scheduling.v1 import scheduling_pb2 as pb
from rapport_platform.rpc import bearer

from tests.people import assert_problem
from tests.scheduling.helpers import on_grid, rfc3339


async def appointment(sched_db, appointment_id: str) -> dict:
    return await sched_db["appointments"].find_one({"_id": appointment_id})


async def test_client_cannot_move_a_session_inside_the_window_to_dodge_the_fee(
    practice, http, sched_db
):
    t = await practice.therapist()
    c = await practice.client()
    soon = on_grid(datetime.now(UTC) + timedelta(hours=3), 15)
    a = (await practice.book(c, t, soon)).json()
    before = await appointment(sched_db, a["appointment_id"])
    far = on_grid(datetime.now(UTC) + timedelta(days=5))
    problem = assert_problem(
        await http.post(
            f"/v1/appointments/{a['appointment_id']}/reschedule",
            headers=c.h,
            json={"start": rfc3339(far)},
        ),
        409,
    )
    assert "cancel" in problem["detail"]
    assert await appointment(sched_db, a["appointment_id"]) == before
    # Cancelling it stays late and billable.
    r = await http.post(f"/v1/appointments/{a['appointment_id']}/cancel", headers=c.h, json={})
    assert r.json()["late_cancellation"] is True and r.json()["late_fee_minor"] == practice.LATE_FEE


async def test_a_session_the_therapist_moved_may_be_cancelled_by_the_client_without_fee(
    practice, http
):
    t = await practice.therapist()
    c = await practice.client()
    start = on_grid(datetime.now(UTC) + timedelta(days=4))
    a = (await practice.book(c, t, start)).json()
    # The therapist moves it to tomorrow morning, inside the client's cancellation window.
    soon = on_grid(datetime.now(UTC) + timedelta(hours=5), 15)
    r = await http.post(
        f"/v1/appointments/{a['appointment_id']}/reschedule",
        headers=t.h,
        json={"start": rfc3339(soon)},
    )
    assert r.status_code == 200, r.text
    r = await http.post(f"/v1/appointments/{a['appointment_id']}/cancel", headers=c.h, json={})
    assert r.status_code == 200, r.text
    assert r.json()["late_cancellation"] is False and r.json()["late_fee_minor"] == 0


async def test_a_hold_never_outlives_the_start_and_cannot_be_confirmed_after_it(
    practice, http, sched_db, time_travel
):
    t = await practice.therapist()
    c = await practice.client()
    start = on_grid(datetime.now(UTC) + timedelta(days=2), 15)
    # Placed five minutes before the start (a replica whose clock stands there), a hold of the
    # default TTL (600 s) would run five minutes past it: it is cut at the start.
    early, _ = await time_travel(start - timedelta(minutes=5) - datetime.now(UTC))
    reply = await early.BookAppointment(
        pb.BookAppointmentRequest(
            therapist_id=t.user_id,
            session_type="talk-50",
            start=Timestamp(seconds=int(start.timestamp())),
            modality=pb.MODALITY_VIDEO,
            hold=True,
        ),
        metadata=bearer(c.access),
    )
    hold = reply.appointment
    assert hold.status == pb.APPOINTMENT_STATUS_HELD
    assert hold.hold_expires_at.ToDatetime(tzinfo=UTC) == start
    stored = await appointment(sched_db, hold.appointment_id)
    assert stored["hold_expires_at"] == start
    # A replica whose clock is past the start refuses to confirm it.
    later, _ = await time_travel(start - datetime.now(UTC) + timedelta(minutes=1))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await later.ConfirmAppointment(
            pb.ConfirmAppointmentRequest(appointment_id=hold.appointment_id),
            metadata=bearer(c.access),
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (await appointment(sched_db, hold.appointment_id))["status"] == "held"


@pytest.mark.parametrize(
    ("method", "path", "params", "body"),
    [
        ("POST", "/v1/appointments", None, {"start": "9999-12-31T23:00:00-05:00"}),
        ("GET", "/v1/appointments", {"from": "0001-01-01T00:00:00+05:00"}, None),
        ("GET", "SLOTS", {"from": "0001-01-01T00:10:00Z", "to": "0001-01-02T00:10:00Z"}, None),
    ],
)
async def test_far_off_times_are_422(practice, http, sched_db, method, path, params, body):
    t = await practice.therapist()
    c = await practice.client()
    count = await sched_db["appointments"].count_documents({})
    if path == "SLOTS":
        path = f"/v1/therapists/{t.user_id}/slots"
        params = {**params, "session_type": "talk-50"}
    if body is not None:
        body = {"therapist_id": t.user_id, "session_type": "talk-50", "modality": "video", **body}
    r = await http.request(method, path, headers=c.h, params=params, json=body)
    assert_problem(r, 422)
    assert await sched_db["appointments"].count_documents({}) == count


async def test_a_forged_list_cursor_is_422(practice, http):
    c = await practice.client()
    forged = base64.urlsafe_b64encode(
        json.dumps(["0001-01-01T00:00:00+14:00", "x"]).encode()
    ).decode()
    assert_problem(await http.get("/v1/appointments", headers=c.h, params={"cursor": forged}), 422)


async def test_a_client_cannot_move_a_session_once_the_therapist_is_no_longer_eligible(
    practice, http, sched_db, stack
):
    t = await practice.therapist()
    c = await practice.client()
    a = (await practice.book(c, t, on_grid(datetime.now(UTC) + timedelta(days=3)))).json()
    before = await appointment(sched_db, a["appointment_id"])
    # Time passes in identity's records: the therapist's US-CA licence has lapsed.
    identity_db = stack.identity.store.db
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    await identity_db["licenses"].update_many(
        {"therapist_id": t.user_id}, {"$set": {"expires_on": yesterday}}
    )
    far = on_grid(datetime.now(UTC) + timedelta(days=6))
    problem = assert_problem(
        await http.post(
            f"/v1/appointments/{a['appointment_id']}/reschedule",
            headers=c.h,
            json={"start": rfc3339(far)},
        ),
        403,
    )
    assert problem["field"] == "therapist_id"
    assert await appointment(sched_db, a["appointment_id"]) == before


async def test_one_client_cannot_hold_a_whole_calendar(practice, sched_db):
    t = await practice.therapist()
    c = await practice.client()
    base = on_grid(datetime.now(UTC) + timedelta(days=8))
    for i in range(3):  # the default cap
        r = await practice.book(c, t, base + timedelta(hours=2 * i), hold=True)
        assert r.status_code == 201, r.text
    count = await sched_db["appointments"].count_documents({"client_id": c.user_id})
    assert_problem(await practice.book(c, t, base + timedelta(hours=8), hold=True), 429)
    assert await sched_db["appointments"].count_documents({"client_id": c.user_id}) == count
    # Booking outright is not a hold and stays possible.
    r = await practice.book(c, t, base + timedelta(hours=8))
    assert r.status_code == 201, r.text

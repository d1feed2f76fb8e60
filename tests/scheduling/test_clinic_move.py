"""A therapist who joins another clinic takes their coming appointments along: the old clinic's
admin loses them, the new one manages them (scheduling consumes therapist_joined_clinic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rapport.events.v1 import identity_pb2 as identity_events
from rapport_platform.bus import Bus
from rapport_scheduling.events import CLINIC_CONSUMER, THERAPIST_JOINED_CLINIC

from tests.people import assert_problem
from tests.scheduling.helpers import Practice, on_grid
from tests.waiting import eventually


async def test_coming_appointments_follow_the_therapist_to_the_new_clinic(practice, http, sched_db):
    t = await practice.therapist()
    c = await practice.client()
    a = (await practice.book(c, t, on_grid(datetime.now(UTC) + timedelta(days=4)))).json()
    url = f"/v1/appointments/{a['appointment_id']}"
    assert (await http.get(url, headers=practice.admin.h)).status_code == 200

    other = await Practice(http).open()
    r = await http.post(
        f"/v1/clinics/{other.admin.clinic_id}/invitations",
        headers=other.admin.h,
        json={"email": t.email},
    )
    assert r.status_code == 201, r.text
    r = await http.post(f"/v1/invitations/{r.json()['invitation_token']}/accept", headers=t.h)
    assert r.status_code == 200, r.text

    async def moved() -> bool:
        doc = await sched_db["appointments"].find_one({"_id": a["appointment_id"]})
        return doc["clinic_id"] == other.admin.clinic_id

    await eventually(moved, what="the appointment follows the therapist to the new clinic")
    assert_problem(await http.get(url, headers=practice.admin.h), 403)
    assert_problem(await http.post(f"{url}/cancel", headers=practice.admin.h, json={}), 403)
    assert (await http.get(url, headers=other.admin.h)).status_code == 200


async def test_a_forged_clinic_move_is_rechecked_with_identity_and_changes_nothing(
    practice, http, sched_db, stack
):
    """Even a forged therapist_joined_clinic that reached the stream (a NATS without
    permissions, a leaked credential) moves nothing: scheduling asks identity first."""
    t = await practice.therapist()
    c = await practice.client()
    a = (await practice.book(c, t, on_grid(datetime.now(UTC) + timedelta(days=5)))).json()
    thief = await Practice(http).open()
    forged = identity_events.TherapistJoinedClinic(
        therapist_id=t.user_id, clinic_id=thief.admin.clinic_id
    )
    bus = Bus(stack.deps.nats_url, source="rapport/attacker")  # the tests' user may publish all
    await bus.start()
    await bus.wait_connected()
    try:
        event_id = await bus.publish(THERAPIST_JOINED_CLINIC, forged)
    finally:
        await bus.close()

    async def handled() -> bool:
        key = f"{CLINIC_CONSUMER}:{event_id}"
        return await sched_db["processed_events"].find_one({"_id": key}) is not None

    await eventually(handled, what="scheduling consumed the forged event")
    doc = await sched_db["appointments"].find_one({"_id": a["appointment_id"]})
    assert doc["clinic_id"] == practice.admin.clinic_id
    url = f"/v1/appointments/{a['appointment_id']}"
    assert_problem(await http.get(url, headers=thief.admin.h), 403)
    assert (await http.get(url, headers=practice.admin.h)).status_code == 200

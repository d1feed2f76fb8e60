"""Cancel (late or not, by whom), reschedule (atomic), no-show, and completed when the session
relay reports the session ended; each change's event, through the outbox, onto NATS."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.events.v1 import scheduling_pb2 as ev
from rapport.events.v1 import sessions_pb2
from rapport.scheduling.v1 import scheduling_pb2 as pb
from rapport_platform.bus import Bus, Consumer, Event, stream_name
from rapport_platform.rpc import bearer
from rapport_scheduling.events import CONSUMER

from tests.people import assert_problem
from tests.scheduling.helpers import (
    Received,
    consumer_caught_up,
    on_grid,
    outbox_events,
    parse,
    rfc3339,
)
from tests.waiting import eventually


def ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


@pytest.fixture
async def bus(stack):
    bus = Bus(stack.deps.nats_url, source="rapport/tests")
    await bus.start()
    await bus.wait_connected()
    yield bus
    await bus.close()


@pytest.fixture
async def scheduling_events(bus):
    """Every rapport.scheduling.* event published from now on, as they arrive on NATS."""
    received = Received(bus, stream_name("scheduling"))
    stop = asyncio.Event()

    async def keep(event: Event) -> None:
        received.append(event)

    consumer = Consumer(
        bus,
        durable=received.durable,
        subject="rapport.scheduling.>",
        handler=keep,
        fetch_timeout=0.2,
    )
    task = asyncio.create_task(consumer.run(stop))
    yield received
    stop.set()
    await task


async def wait_for(predicate, what: str):
    return await eventually(predicate, what=what)


def events_of(received: list[Event], subject: str, cls, appointment_id: str) -> list:
    out = []
    for e in received:
        if e.subject == subject:
            msg = e.parse(cls)
            if msg.appointment.appointment_id == appointment_id:
                out.append((e, msg))
    return out


async def doc(sched_db, appointment_id: str) -> dict:
    return await sched_db["appointments"].find_one({"_id": appointment_id})


async def test_cancellation_late_or_not_and_by_whom(
    practice, http, sched_db, scheduling_events, telemetry
):
    t = await practice.therapist()
    c = await practice.client()
    soon = on_grid(datetime.now(UTC) + timedelta(hours=3), 15)
    later = on_grid(datetime.now(UTC) + timedelta(days=3))
    a_soon = (await practice.book(c, t, soon)).json()
    a_later = (await practice.book(c, t, later)).json()
    a_therapist = (await practice.book(c, t, soon + timedelta(hours=2))).json()

    # A client cancelling inside the clinic's 24 h window: late and billable.
    r = await http.post(
        f"/v1/appointments/{a_soon['appointment_id']}/cancel",
        headers=c.h,
        json={"reason": "something came up"},
    )
    assert r.status_code == 200, r.text
    trace_id = r.headers["X-Trace-Id"]
    late = r.json()
    assert late["status"] == "cancelled" and late["cancelled_by"] == "client"
    assert late["late_cancellation"] is True and late["late_fee_minor"] == practice.LATE_FEE
    # Outside the window: not late.
    r = await http.post(
        f"/v1/appointments/{a_later['appointment_id']}/cancel", headers=c.h, json={}
    )
    assert r.json()["late_cancellation"] is False and r.json()["late_fee_minor"] == 0
    # The therapist cancelling late is never the client's fault.
    r = await http.post(
        f"/v1/appointments/{a_therapist['appointment_id']}/cancel",
        headers=t.h,
        json={"reason": "unwell"},
    )
    assert r.json()["cancelled_by"] == "therapist" and r.json()["late_cancellation"] is False

    # The slot is free again and the reminders are off.
    assert soon in await practice.slots(c, t, soon - timedelta(hours=1), soon + timedelta(hours=1))
    statuses = {
        d["status"]
        async for d in sched_db["reminders"].find({"appointment_id": a_later["appointment_id"]})
    }
    assert statuses == {"cancelled"}

    # The events reach NATS: late flag, who, fee; ids only, the reason never.
    got = await wait_for(
        lambda: asyncio.sleep(
            0,
            events_of(
                scheduling_events,
                "rapport.scheduling.appointment_cancelled",
                ev.AppointmentCancelled,
                a_soon["appointment_id"],
            ),
        ),
        "appointment_cancelled on NATS",
    )
    event, msg = got[0]
    assert msg.late and msg.cancelled_by == "client" and msg.cancelled_by_user_id == c.user_id
    assert msg.late_fee.amount_minor == practice.LATE_FEE and msg.late_fee.currency == "USD"
    assert b"something came up" not in event.data and "something" not in str(event.headers)
    assert event.headers["ce-type"] == "rapport.scheduling.appointment_cancelled"
    # One trace from the gateway's request to the consumer of the event.
    processed = [
        s
        for s in telemetry.finished("rapport.scheduling.appointment_cancelled process")
        if s.attributes["messaging.message.id"] == event.id
    ]
    assert processed and format(processed[0].context.trace_id, "032x") == trace_id


async def test_cancel_bad_cases_change_nothing(practice, http, sched_db):
    t = await practice.therapist()
    c = await practice.client()
    a = (await practice.book(c, t, on_grid(datetime.now(UTC) + timedelta(days=2)))).json()
    url = f"/v1/appointments/{a['appointment_id']}/cancel"
    before = await doc(sched_db, a["appointment_id"])

    stranger = await practice.client()
    other_therapist = await practice.therapist()
    assert_problem(await http.post(url, headers=stranger.h, json={}), 403)
    assert_problem(await http.post(url, headers=other_therapist.h, json={}), 403)
    assert_problem(await http.post(url, headers=c.h, json={"reason": "x" * 501}), 422)
    assert_problem(await http.post("/v1/appointments/no-such-id/cancel", headers=c.h, json={}), 404)
    assert await doc(sched_db, a["appointment_id"]) == before

    assert (await http.post(url, headers=c.h, json={})).status_code == 200
    cancelled = await doc(sched_db, a["appointment_id"])
    problem = assert_problem(await http.post(url, headers=t.h, json={}), 409)
    assert "already cancelled" in problem["detail"]
    assert await doc(sched_db, a["appointment_id"]) == cancelled
    cancelled_events = await outbox_events(
        sched_db,
        "rapport.scheduling.appointment_cancelled",
        ev.AppointmentCancelled,
        a["appointment_id"],
    )
    assert len(cancelled_events) == 1  # one cancellation, one event; the refusals wrote none


async def test_reschedule_claims_the_new_time_before_releasing_the_old(practice, http, sched_db):
    t = await practice.therapist()
    c = await practice.client()
    other = await practice.client()
    first = on_grid(datetime.now(UTC) + timedelta(days=3))
    a = (await practice.book(c, t, first)).json()
    b = (await practice.book(other, t, first + timedelta(hours=3))).json()
    url = f"/v1/appointments/{a['appointment_id']}/reschedule"
    claims_before = sorted(
        [d["_id"] async for d in sched_db["claims"].find({"appointment_id": a["appointment_id"]})]
    )

    # Onto someone else's time: 409 and nothing moved.
    problem = assert_problem(
        await http.post(
            url, headers=c.h, json={"start": rfc3339(first + timedelta(hours=3, minutes=30))}
        ),
        409,
    )
    assert problem["field"] == "start"
    claims_after = sorted(
        [d["_id"] async for d in sched_db["claims"].find({"appointment_id": a["appointment_id"]})]
    )
    assert claims_after == claims_before
    assert (await doc(sched_db, a["appointment_id"]))["start"] == first

    # Overlapping its own old time is fine (the shared cells are kept, not fought over).
    moved_to = first + timedelta(minutes=30)
    r = await http.post(url, headers=c.h, json={"start": rfc3339(moved_to)})
    assert r.status_code == 200, r.text
    assert parse(r.json()["start"]) == moved_to and r.json()["status"] == "confirmed"
    # The therapist may move it too.
    final = first + timedelta(hours=1, minutes=45)
    r = await http.post(url, headers=t.h, json={"start": rfc3339(final)})
    assert r.status_code == 200, r.text
    window = (first - timedelta(hours=1), first + timedelta(hours=2))
    free = await practice.slots(c, t, *window)
    assert first in free and final not in free
    cells = [
        d["cell"] async for d in sched_db["claims"].find({"appointment_id": a["appointment_id"]})
    ]
    assert min(cells) == final and len(cells) == 10  # 50 minutes, no buffers

    # Reminders follow the appointment; the event tells both times.
    pending = [
        d
        async for d in sched_db["reminders"].find(
            {"appointment_id": a["appointment_id"], "status": "pending"}
        )
    ]
    assert sorted(final - d["due_at"] for d in pending) == [timedelta(hours=1), timedelta(days=1)]
    events = [
        ev.AppointmentRescheduled.FromString(bytes(d["data"]))
        async for d in sched_db["outbox"].find(
            {"subject": "rapport.scheduling.appointment_rescheduled"}
        )
    ]
    mine = [e for e in events if e.appointment.appointment_id == a["appointment_id"]]
    assert [e.rescheduled_by for e in mine] == ["client", "therapist"]
    assert mine[-1].previous_start.ToDatetime(tzinfo=UTC) == moved_to
    assert mine[-1].appointment.start.ToDatetime(tzinfo=UTC) == final
    assert b["status"] == "confirmed"

    # And back to where it started: fresh reminders beside the cancelled ones of that time.
    r = await http.post(url, headers=c.h, json={"start": rfc3339(first)})
    assert r.status_code == 200, r.text
    statuses = [
        (d["status"], d["due_at"])
        async for d in sched_db["reminders"].find({"appointment_id": a["appointment_id"]})
    ]
    assert sorted(due for status, due in statuses if status == "pending") == [
        first - timedelta(days=1),
        first - timedelta(hours=1),
    ]
    assert len(statuses) == 8


async def test_session_ended_completes_once_then_no_reschedule(
    practice, http, sched_db, bus, scheduling_events
):
    t = await practice.therapist()
    c = await practice.client()
    a = (await practice.book(c, t, on_grid(datetime.now(UTC) + timedelta(days=2)))).json()
    ended = datetime.now(UTC).replace(microsecond=0)
    message = sessions_pb2.SessionEnded(
        appointment_id=a["appointment_id"],
        session_id="sess-1",
        started_at=ts(ended - timedelta(minutes=50)),
        ended_at=ts(ended),
        connected_seconds=3000,
        modality="video",
        occurred_at=ts(ended),
    )
    event_id = str(uuid.uuid4())
    await bus.publish("rapport.sessions.session_ended", message, event_id=event_id)
    # The same event again (a redelivery after a relay crash) and another one for it.
    await bus.publish("rapport.sessions.session_ended", message, event_id=event_id)
    await bus.publish("rapport.sessions.session_ended", message)

    async def completed():
        r = await http.get(f"/v1/appointments/{a['appointment_id']}", headers=c.h)
        return r.json() if r.json()["status"] == "completed" else None

    done = await wait_for(completed, "completion")
    assert done["session_id"] == "sess-1" and parse(done["completed_at"]) == ended
    got = await wait_for(
        lambda: asyncio.sleep(
            0,
            events_of(
                scheduling_events,
                "rapport.scheduling.appointment_completed",
                ev.AppointmentCompleted,
                a["appointment_id"],
            ),
        ),
        "appointment_completed on NATS",
    )
    # No duplicate: once scheduling has handled every session_ended on the stream, its outbox
    # has relayed everything, and our consumer has every scheduling event, there is still one.
    await wait_for(
        lambda: consumer_caught_up(bus, stream_name("sessions"), CONSUMER), "session_ended handled"
    )
    rows = await outbox_events(
        sched_db,
        "rapport.scheduling.appointment_completed",
        ev.AppointmentCompleted,
        a["appointment_id"],
    )
    assert len(rows) == 1
    await wait_for(
        lambda: sched_db["outbox"].count_documents(
            {"_id": rows[0][0]["_id"], "published_at": {"$exists": True}}
        ),
        "the completion relayed",
    )
    await wait_for(
        scheduling_events.caught_up,
        "every scheduling event received",
    )
    assert len(got) == 1
    assert got[0][1].session_id == "sess-1" and got[0][1].appointment.price.amount_minor == 9000

    before = await doc(sched_db, a["appointment_id"])
    problem = assert_problem(
        await http.post(
            f"/v1/appointments/{a['appointment_id']}/reschedule",
            headers=c.h,
            json={"start": rfc3339(parse(a["start"]) + timedelta(hours=2))},
        ),
        409,
    )
    assert "completed" in problem["detail"]
    assert_problem(
        await http.post(f"/v1/appointments/{a['appointment_id']}/cancel", headers=c.h, json={}),
        409,
    )
    assert await doc(sched_db, a["appointment_id"]) == before


async def test_no_show_only_by_the_therapist_after_the_start(practice, http, sched_db, time_travel):
    t = await practice.therapist()
    c = await practice.client()
    start = on_grid(datetime.now(UTC) + timedelta(days=1, hours=2))
    a = (await practice.book(c, t, start)).json()
    url = f"/v1/appointments/{a['appointment_id']}/no-show"
    before = await doc(sched_db, a["appointment_id"])
    problem = assert_problem(await http.post(url, headers=t.h), 409)
    assert "after the start" in problem["detail"]
    assert_problem(await http.post(url, headers=c.h), 403)
    assert await doc(sched_db, a["appointment_id"]) == before

    # Fifteen minutes after the start (a replica whose clock is there already).
    later, _ = await time_travel(start - datetime.now(UTC) + timedelta(minutes=15))
    reply = await later.MarkNoShow(
        pb.MarkNoShowRequest(appointment_id=a["appointment_id"]), metadata=bearer(t.access)
    )
    assert reply.appointment.status == pb.APPOINTMENT_STATUS_NO_SHOW
    assert reply.appointment.no_show_at.ToDatetime(tzinfo=UTC) > start
    r = await http.get(f"/v1/appointments/{a['appointment_id']}", headers=c.h)
    assert r.json()["status"] == "no_show"
    events = [
        ev.AppointmentNoShow.FromString(bytes(d["data"]))
        async for d in sched_db["outbox"].find(
            {"subject": "rapport.scheduling.appointment_no_show"}
        )
    ]
    mine = [e for e in events if e.appointment.appointment_id == a["appointment_id"]]
    assert len(mine) == 1 and mine[0].marked_by_user_id == t.user_id
    assert mine[0].appointment.status == "no_show"

"""Reminders at 24 h and 1 h before, fired as reminder_due exactly once: two scheduling replicas
race for them, one replica restarts in between, extra schedulers hammer the same records. The
clock is injected, so nobody waits a day."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.events.v1 import scheduling_pb2 as ev
from rapport.scheduling.v1 import scheduling_pb2 as pb
from rapport.scheduling.v1 import scheduling_pb2_grpc
from rapport_platform.bus import Bus, Consumer, Event, stream_name
from rapport_platform.outbox import Outbox
from rapport_platform.rpc import bearer, client_channel
from rapport_platform.store import Store
from rapport_scheduling.events import ReminderScheduler
from rapport_scheduling.store import SchedulingStore

from tests.scheduling.helpers import Received, on_grid, replica_settings, start_replica
from tests.waiting import eventually


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


class Replica:
    def __init__(self, app) -> None:
        self.app = app
        self.channel = client_channel(f"127.0.0.1:{app.server.port}")
        self.stub = scheduling_pb2_grpc.SchedulingServiceStub(self.channel)

    async def stop(self) -> None:
        await self.channel.close()
        await self.app.stop(0)


@pytest.fixture
async def reminder_events(stack):
    bus = Bus(stack.deps.nats_url, source="rapport/tests")
    await bus.start()
    await bus.wait_connected()
    received = Received(bus, stream_name("scheduling"))
    stop = asyncio.Event()

    async def keep(event: Event) -> None:
        received.append(event)

    consumer = Consumer(
        bus,
        durable=received.durable,
        subject="rapport.scheduling.reminder_due",
        handler=keep,
        fetch_timeout=0.2,
    )
    task = asyncio.create_task(consumer.run(stop))
    yield received
    stop.set()
    await task
    await bus.close()


async def settle(predicate, what: str):
    await eventually(predicate, what=what)


async def test_reminders_fire_exactly_once_across_replicas_and_a_restart(
    stack, practice, reminder_events
):
    t = await practice.therapist()
    c = await practice.client()
    clock = FakeClock(datetime.now(UTC))
    settings = replica_settings(
        stack, mongo_db=f"sched_rem_{uuid.uuid4().hex[:8]}", reminder_poll_seconds=0.05
    )
    a = Replica(await start_replica(settings, clock))
    b = Replica(
        await start_replica(
            replica_settings(stack, mongo_db=settings.mongo_db, reminder_poll_seconds=0.05), clock
        )
    )
    replicas = [a, b]
    store = Store(stack.deps.mongo_uri, settings.mongo_db)
    try:
        await a.stub.SetAvailability(
            pb.SetAvailabilityRequest(
                availability=pb.Availability(
                    therapist_id=t.user_id,
                    timezone="UTC",
                    weekly=[pb.WeeklyRule(weekday=d, start="00:00", end="24:00") for d in range(7)],
                    horizon_days=30,
                    slot_step_minutes=15,
                )
            ),
            metadata=bearer(t.access),
        )

        async def book(start: datetime) -> str:
            reply = await b.stub.BookAppointment(
                pb.BookAppointmentRequest(
                    therapist_id=t.user_id,
                    session_type="talk-50",
                    start=ts(start),
                    modality=pb.MODALITY_VIDEO,
                ),
                metadata=bearer(c.access),
            )
            return reply.appointment.appointment_id

        start = on_grid(clock.now + timedelta(days=3))
        kept = await book(start)
        cancelled = await book(start + timedelta(hours=2))
        moved = await book(start + timedelta(hours=4))
        # Its reminders fall due while no scheduler runs, until after it started: skipped.
        missed = await book(start + timedelta(days=2))
        await a.stub.CancelAppointment(
            pb.CancelAppointmentRequest(appointment_id=cancelled), metadata=bearer(c.access)
        )
        moved_to = start + timedelta(hours=6)
        await b.stub.RescheduleAppointment(
            pb.RescheduleAppointmentRequest(appointment_id=moved, start=ts(moved_to)),
            metadata=bearer(c.access),
        )
        reminders = store.db["reminders"]
        assert await reminders.count_documents({"status": "pending"}) == 6

        async def fired(n: int) -> bool:
            return await reminders.count_documents({"status": "fired"}) == n

        # A day before (and a minute): both replicas race for the two 24 h reminders, and
        # extra schedulers on the same records hammer them at the same instant.
        clock.now = start - timedelta(hours=24) + timedelta(minutes=1)
        repo = SchedulingStore(store)
        outbox = Outbox(store, Bus(stack.deps.nats_url, source="rapport/tests"), service="tests")
        extra = [ReminderScheduler(store, repo, outbox, clock=clock) for _ in range(4)]
        await asyncio.gather(*(s.run_once() for s in extra))
        await settle(lambda: fired(1), "the 24 h reminder of the kept appointment")
        assert await reminders.count_documents({"status": "pending"}) == 5

        # One replica goes away (a restart) and comes back; meanwhile the moved appointment's
        # 24 h reminder falls due.
        await a.stop()
        replicas.remove(a)
        clock.now = moved_to - timedelta(hours=24)
        await settle(lambda: fired(2), "the moved appointment's 24 h reminder")
        a = Replica(await start_replica(settings, clock))
        replicas.append(a)

        # An hour before each: the 1 h reminders.
        clock.now = start - timedelta(minutes=59)
        await asyncio.gather(*(s.run_once() for s in extra))
        await settle(lambda: fired(3), "the kept appointment's 1 h reminder")
        clock.now = moved_to - timedelta(minutes=59)
        await settle(lambda: fired(4), "the moved appointment's 1 h reminder")
        # Long after: nothing more to fire, whatever runs; the missed appointment's reminders,
        # due while nothing ran and now past its start, are skipped rather than sent late.
        await a.stop()
        await b.stop()
        replicas.clear()
        clock.now = moved_to + timedelta(days=2)
        await asyncio.gather(*(s.run_once() for s in extra))
        assert await reminders.count_documents({"status": "skipped"}) == 2
        a = Replica(await start_replica(settings, clock))
        replicas.append(a)  # its relay publishes whatever the extra schedulers recorded

        async def all_published() -> bool:
            ids = {e.parse(ev.ReminderDue).appointment.appointment_id for e in reminder_events}
            return {kept, moved} <= ids and len(
                [
                    e
                    for e in reminder_events
                    if e.parse(ev.ReminderDue).appointment.appointment_id in (kept, moved)
                ]
            ) >= 4

        await settle(all_published, "four reminder_due events on NATS")

        # No duplicate: once every outbox row is relayed and our consumer holds every event on
        # the stream, count (a duplicate would be there by then; nothing is left to send one).
        async def relayed() -> bool:
            return await store.db["outbox"].count_documents({"pending": True}) == 0

        await settle(relayed, "every reminder_due relayed")
        await settle(reminder_events.caught_up, "every scheduling event received")
        mine = [
            e.parse(ev.ReminderDue)
            for e in reminder_events
            if e.parse(ev.ReminderDue).appointment.appointment_id
            in (kept, moved, cancelled, missed)
        ]
        per_reminder = Counter(m.reminder_id for m in mine)
        assert len(per_reminder) == 4 and set(per_reminder.values()) == {1}, per_reminder
        got = sorted(
            (
                m.appointment.appointment_id == kept,
                m.lead_minutes,
                m.appointment.start.ToDatetime(tzinfo=UTC),
            )
            for m in mine
        )
        assert got == [
            (False, 60, moved_to),
            (False, 1440, moved_to),
            (True, 60, start),
            (True, 1440, start),
        ]
        assert all(m.appointment.appointment_id != cancelled for m in mine)
        outbox = store.db["outbox"]
        assert await outbox.count_documents({"subject": "rapport.scheduling.reminder_due"}) == 4
        assert await outbox.count_documents({"pending": True}) == 0
        statuses = Counter([d["status"] async for d in reminders.find({})])
        assert statuses == {"fired": 4, "cancelled": 4, "skipped": 2}
    finally:
        for r in replicas:
            await r.stop()
        await store.client.drop_database(settings.mongo_db)
        await store.close()

"""A NATS outage loses nothing: bookings still succeed (the write and its event commit together),
readiness says NOT_SERVING meanwhile, and the event is published once NATS is back."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from rapport.events.v1 import scheduling_pb2 as ev
from rapport_platform.bus import Bus, Consumer, Event

from tests.scheduling.helpers import on_grid

BOOKED = "rapport.scheduling.appointment_booked"


async def test_booking_during_a_nats_outage_is_published_when_nats_returns(practice, stack):
    t = await practice.therapist()
    c = await practice.client()
    start = on_grid(datetime.now(UTC) + timedelta(days=5))

    bus = Bus(stack.deps.nats_url, source="rapport/test")
    await bus.start()
    await bus.wait_connected()
    received: list[Event] = []
    stop = asyncio.Event()

    async def keep(event: Event) -> None:
        received.append(event)

    consumer = Consumer(
        bus,
        durable=f"outage-{uuid.uuid4().hex[:8]}",
        subject=BOOKED,
        handler=keep,
        fetch_timeout=0.2,
    )
    task = asyncio.create_task(consumer.run(stop))
    scheduling = stack.scheduling
    try:
        await asyncio.sleep(0.5)  # the durable consumer exists before the outage
        stack.deps.nats.kill()
        try:
            assert not await scheduling.server.probe_once()  # NOT_SERVING while NATS is down
            r = await practice.book(c, t, start)
            assert r.status_code == 201, r.text
            appointment_id = r.json()["appointment_id"]
            pending = await scheduling.store.db.outbox.count_documents(
                {"pending": True, "subject": BOOKED}
            )
            assert pending >= 1
        finally:
            stack.deps.nats.restart()

        def mine() -> list[ev.AppointmentBooked]:
            return [
                m
                for m in (e.parse(ev.AppointmentBooked) for e in received if e.subject == BOOKED)
                if m.appointment.appointment_id == appointment_id
            ]

        for _ in range(400):
            if mine():
                break
            await asyncio.sleep(0.05)
        assert len(mine()) == 1, "the booking's event was never published after the outage"
        for _ in range(100):
            if await scheduling.server.probe_once():
                break
            await asyncio.sleep(0.1)
        assert scheduling.server.serving
    finally:
        stop.set()
        await task
        await bus.close()

"""A NATS outage loses nothing: bookings still succeed (the write and its event commit together),
readiness says NOT_SERVING meanwhile, and the event is published once NATS is back."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from nats.js.errors import NotFoundError
from rapport.events.v1 import scheduling_pb2 as ev
from rapport_platform.bus import Bus, Consumer, Event, stream_name

from tests.scheduling.helpers import consumer_caught_up, on_grid
from tests.waiting import eventually

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

    durable = f"outage-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        bus,
        durable=durable,
        subject=BOOKED,
        handler=keep,
        fetch_timeout=0.2,
    )
    task = asyncio.create_task(consumer.run(stop))
    scheduling = stack.scheduling
    try:
        # The durable consumer exists before the outage (it then gets what was published).
        async def subscribed() -> bool:
            try:
                await bus.js.consumer_info(stream_name("scheduling"), durable)
            except NotFoundError:
                return False
            return True

        await eventually(subscribed, what="the test's durable consumer")
        stack.deps.nats.kill()
        try:
            assert not await scheduling.server.probe_once()  # NOT_SERVING while NATS is down
            r = await practice.book(c, t, start)
            assert r.status_code == 201, r.text
            appointment_id = r.json()["appointment_id"]
            # Its event waits in the outbox (this booking's own row: the outbox is shared).
            waiting = [
                d
                async for d in scheduling.store.db.outbox.find({"pending": True, "subject": BOOKED})
                if ev.AppointmentBooked.FromString(bytes(d["data"])).appointment.appointment_id
                == appointment_id
            ]
            assert len(waiting) == 1
        finally:
            stack.deps.nats.restart()

        def mine() -> list[ev.AppointmentBooked]:
            return [
                m
                for m in (e.parse(ev.AppointmentBooked) for e in received if e.subject == BOOKED)
                if m.appointment.appointment_id == appointment_id
            ]

        await eventually(mine, what="the booking's event published after the outage")
        await eventually(scheduling.server.probe_once, what="SERVING again")
        assert scheduling.server.serving
        await eventually(
            lambda: consumer_caught_up(bus, stream_name("scheduling"), durable),
            what="every scheduling event received",
        )
        assert len(mine()) == 1  # published once, not once per retry
    finally:
        stop.set()
        await task
        await bus.close()

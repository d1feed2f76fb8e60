"""How billing reacts to what it consumes: scheduling's appointment events, the relay's
session_ended and identity's clinic_created. Each event id is applied once, in the transaction of
its postings (consume_once). An event about an appointment billing has not seen is parked: the
handler raises, the consumer naks it with backoff and dead-letters it after its last delivery.
What billing publishes is in service.py (always through the outbox)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from rapport.events.v1 import identity_pb2 as identity_events
from rapport.events.v1 import scheduling_pb2 as sched
from rapport.events.v1 import sessions_pb2
from rapport_platform.bus import Bus, Consumer, Event
from rapport_platform.outbox import consume_many, consume_once
from rapport_platform.store import Session

from rapport_billing import domain
from rapport_billing.service import Billing
from rapport_billing.settings import BillingSettings

SCHEDULING = "rapport.scheduling.>"
SESSION_ENDED = "rapport.sessions.session_ended"
CLINIC_CREATED = "rapport.identity.clinic_created"
SCHEDULING_CONSUMER = "billing-scheduling"
SESSIONS_CONSUMER = "billing-session-ended"
CLINICS_CONSUMER = "billing-clinic-created"


def _dt(ts: Timestamp) -> datetime | None:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.ToDatetime(tzinfo=UTC)


def facts(
    a: sched.ScheduledAppointment, *, held: bool = False, hold_expires_at: datetime | None = None
) -> domain.AppointmentFacts:
    start = _dt(a.start) or datetime.fromtimestamp(0, UTC)
    return domain.AppointmentFacts(
        appointment_id=a.appointment_id,
        client_id=a.client_id,
        therapist_id=a.therapist_id,
        clinic_id=a.clinic_id,
        list_price=a.price.amount_minor,
        currency=a.price.currency,
        start=start,
        end=_dt(a.end) or start,
        modality=a.modality,
        held=held,
        hold_expires_at=hold_expires_at,
    )


_MESSAGES: dict[str, Any] = {
    "appointment_cancelled": sched.AppointmentCancelled,
    "appointment_no_show": sched.AppointmentNoShow,
    "appointment_completed": sched.AppointmentCompleted,
}


# Events that split money ask identity for the clinic's current commission first: they go one
# at a time (a booking earlier in the same batch would not be visible to that question yet).
SPLITS_MONEY = ("appointment_cancelled", "appointment_no_show", "appointment_completed")


class NotBatched(Exception):
    """A batch with an event that must be applied on its own."""


class SchedulingHandler:
    def __init__(self, billing: Billing, durable: str = SCHEDULING_CONSUMER) -> None:
        self.billing = billing
        self.durable = durable

    async def _prepared(
        self, event: Event
    ) -> tuple[Callable[[Session], Awaitable[None]], list[str]]:
        """The event's effect inside the transaction, and the ids of the invoice events it
        records, which this handler publishes once committed (one write each instead of the
        relay's rounds; the relay still covers a crash in between)."""
        name = event.subject.rsplit(".", 1)[-1]
        b = self.billing
        # Asked outside the transaction (identity down: the event is retried).
        fresh: int | None = None
        if name in SPLITS_MONEY:
            a = event.parse(_MESSAGES[name]).appointment
            fresh = await b.fresh_commission(a.appointment_id)
        own: list[str] = []

        async def effect(session: Session) -> None:
            own.clear()  # a retried transaction: the aborted attempt's events never committed
            if name == "appointment_booked":
                m = event.parse(sched.AppointmentBooked)
                await b.on_booked(
                    session,
                    facts(m.appointment, held=m.held, hold_expires_at=_dt(m.hold_expires_at)),
                    confirmed=not m.held,
                    own=own,
                )
            elif name == "appointment_confirmed":
                c = event.parse(sched.AppointmentConfirmed)
                await b.on_booked(session, facts(c.appointment), confirmed=True, own=own)
            elif name == "appointment_rescheduled":
                r = event.parse(sched.AppointmentRescheduled)
                await b.on_rescheduled(session, facts(r.appointment))
            elif name == "appointment_cancelled":
                x = event.parse(sched.AppointmentCancelled)
                await b.on_cancelled(
                    session,
                    x.appointment.appointment_id,
                    late=x.late,
                    fee=x.late_fee.amount_minor if x.late else 0,
                    commission_bps=fresh,
                )
            elif name == "appointment_no_show":
                n = event.parse(sched.AppointmentNoShow)
                await b.on_no_show(session, n.appointment.appointment_id, commission_bps=fresh)
            elif name == "appointment_completed":
                done = event.parse(sched.AppointmentCompleted)
                await b.on_delivered(session, done.appointment.appointment_id, commission_bps=fresh)
            # reminder_due and anything added later: nothing to bill.

        return effect, own

    def _committed(self, own: list[str]) -> None:
        for event_id in own:
            self.billing.outbox.publish_committed(event_id)
        if not own:
            self.billing.outbox.wake()

    async def __call__(self, event: Event) -> None:
        effect, own = await self._prepared(event)
        applied, _ = await consume_once(self.billing.store, self.durable, event.id, effect)
        if not applied:  # applied before: what an aborted attempt added never committed
            own.clear()
        self._committed(own)

    async def many(self, events: Sequence[Event]) -> None:
        """A backlog of bookings in one transaction: one event record insert and one commit for
        all of them (the consumer falls back to one at a time if this raises)."""
        if any(e.subject.rsplit(".", 1)[-1] in SPLITS_MONEY for e in events):
            raise NotBatched
        prepared = [await self._prepared(e) for e in events]
        await consume_many(
            self.billing.store,
            self.durable,
            [(e.id, p[0]) for e, p in zip(events, prepared, strict=True)],
        )
        self._committed([event_id for _, own in prepared for event_id in own])


class SessionEndedHandler:
    def __init__(self, billing: Billing, durable: str = SESSIONS_CONSUMER) -> None:
        self.billing = billing
        self.durable = durable

    async def __call__(self, event: Event) -> None:
        m = event.parse(sessions_pb2.SessionEnded)
        fresh = await self.billing.fresh_commission(m.appointment_id)

        async def effect(session: Session) -> None:
            await self.billing.on_delivered(
                session,
                m.appointment_id,
                connected_seconds=max(int(m.connected_seconds), 0),
                modality=m.modality,
                commission_bps=fresh,
            )

        await consume_once(self.billing.store, self.durable, event.id, effect)
        self.billing.outbox.wake()


class ClinicCreatedHandler:
    def __init__(self, billing: Billing) -> None:
        self.billing = billing

    async def __call__(self, event: Event) -> None:
        m = event.parse(identity_events.ClinicCreated)

        async def effect(session: Session) -> None:
            await self.billing.on_clinic_created(session, m.clinic_id, m.commission_bps, m.currency)

        await consume_once(self.billing.store, CLINICS_CONSUMER, event.id, effect)


def consumers(bus: Bus, billing: Billing, settings: BillingSettings) -> list[Consumer]:
    park = {"max_deliver": settings.park_max_deliver, "backoff": settings.park_backoff_seconds}
    return [
        Consumer(
            bus,
            durable=CLINICS_CONSUMER,
            subject=CLINIC_CREATED,
            handler=ClinicCreatedHandler(billing),
            **park,
        ),  # type: ignore[arg-type]
        Consumer(
            bus,
            durable=SCHEDULING_CONSUMER,
            subject=SCHEDULING,
            handler=SchedulingHandler(billing),
            **park,
        ),  # type: ignore[arg-type]
        Consumer(
            bus,
            durable=SESSIONS_CONSUMER,
            subject=SESSION_ENDED,
            handler=SessionEndedHandler(billing),
            **park,
        ),  # type: ignore[arg-type]
    ]

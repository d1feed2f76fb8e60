"""What scheduling publishes (always through the outbox, in the transaction of the change), the
reminder scheduler, and how scheduling reacts to `rapport.sessions.session_ended`.

Payloads carry ids, times, the session type and money: never names, emails or reasons.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from rapport.events.v1 import billing_pb2 as billing_events
from rapport.events.v1 import identity_pb2 as identity_events
from rapport.events.v1 import scheduling_pb2 as ev
from rapport.events.v1 import sessions_pb2
from rapport.types.v1.money_pb2 import Money
from rapport_platform.bus import Event
from rapport_platform.outbox import Outbox, consume_once
from rapport_platform.store import Session, Store
from rapport_platform.telemetry import meter, tracer
from rapport_platform.timestamps import to_timestamp

from rapport_scheduling import domain
from rapport_scheduling.store import SchedulingStore

log = logging.getLogger(__name__)
_tracer = tracer("rapport.scheduling")
bookings = meter("rapport.scheduling").create_counter(
    "rapport.scheduling.bookings", description="appointments booked or held (SRE dashboards)"
)
_fired = meter("rapport.scheduling").create_counter(
    "rapport.scheduling.reminders.fired", description="reminder_due events recorded"
)

BOOKED = "rapport.scheduling.appointment_booked"
CONFIRMED = "rapport.scheduling.appointment_confirmed"
RESCHEDULED = "rapport.scheduling.appointment_rescheduled"
CANCELLED = "rapport.scheduling.appointment_cancelled"
NO_SHOW = "rapport.scheduling.appointment_no_show"
COMPLETED = "rapport.scheduling.appointment_completed"
REMINDER_DUE = "rapport.scheduling.reminder_due"
SESSION_ENDED = "rapport.sessions.session_ended"
CONSUMER = "scheduling-session-ended"

Clock = Callable[[], datetime]


def snapshot(a: domain.Appointment) -> ev.ScheduledAppointment:
    return ev.ScheduledAppointment(
        appointment_id=a.appointment_id,
        therapist_id=a.therapist_id,
        client_id=a.client_id,
        clinic_id=a.clinic_id,
        session_type=a.session_type,
        duration_minutes=a.duration_minutes,
        modality=a.modality,
        start=to_timestamp(a.start),
        end=to_timestamp(a.end),
        price=Money(amount_minor=a.price_minor, currency=a.currency),
        status=a.status,
    )


def booked(a: domain.Appointment, now: datetime) -> ev.AppointmentBooked:
    return ev.AppointmentBooked(
        appointment=snapshot(a),
        held=a.status == domain.HELD,
        hold_expires_at=to_timestamp(a.hold_expires_at),
        occurred_at=to_timestamp(now),
    )


def confirmed(a: domain.Appointment, now: datetime) -> ev.AppointmentConfirmed:
    return ev.AppointmentConfirmed(appointment=snapshot(a), occurred_at=to_timestamp(now))


def rescheduled(
    old: domain.Appointment, new: domain.Appointment, by: str, now: datetime
) -> ev.AppointmentRescheduled:
    return ev.AppointmentRescheduled(
        appointment=snapshot(new),
        previous_start=to_timestamp(old.start),
        previous_end=to_timestamp(old.end),
        rescheduled_by=by,
        occurred_at=to_timestamp(now),
    )


def cancelled(a: domain.Appointment, now: datetime) -> ev.AppointmentCancelled:
    return ev.AppointmentCancelled(
        appointment=snapshot(a),
        cancelled_by=a.cancelled_by,
        cancelled_by_user_id=a.cancelled_by_user_id,
        late=a.late_cancellation,
        late_fee=Money(amount_minor=a.late_fee_minor, currency=a.currency),
        occurred_at=to_timestamp(now),
    )


def no_show(a: domain.Appointment, by_user_id: str, now: datetime) -> ev.AppointmentNoShow:
    return ev.AppointmentNoShow(
        appointment=snapshot(a), marked_by_user_id=by_user_id, occurred_at=to_timestamp(now)
    )


def completed(a: domain.Appointment, now: datetime) -> ev.AppointmentCompleted:
    return ev.AppointmentCompleted(
        appointment=snapshot(a),
        session_id=a.session_id,
        ended_at=to_timestamp(a.completed_at),
        occurred_at=to_timestamp(now),
    )


class ReminderScheduler:
    """Fires due reminders as `reminder_due`, exactly once across restarts and replicas.

    Each firing is one transaction: the reminder moves pending -> fired and the event enters the
    outbox together, so a crash either leaves both undone (fired later) or both done (published by
    the relay, with the reminder id as event id so JetStream drops a re-publish). Replicas racing
    for one reminder hit a write conflict and the loser moves on to the next."""

    def __init__(
        self,
        store: Store,
        repo: SchedulingStore,
        outbox: Outbox,
        *,
        clock: Clock,
        poll_seconds: float = 5.0,
        batch: int = 100,
    ) -> None:
        self.store = store
        self.repo = repo
        self.outbox = outbox
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.batch = batch

    async def fire_one(self) -> str | None:
        """Fire (or skip) the most overdue reminder. Returns its id, or None when none is due."""
        now = self.clock()

        async def tx(session: Session) -> str | None:
            doc = await self.repo.take_due_reminder(session, now)
            if doc is None:
                return None
            appt = await self.repo.get_appointment(doc["appointment_id"], session=session)
            if appt is None or appt.status != domain.CONFIRMED or appt.start <= now:
                # Too late to remind (the scheduler was down past the start) or nothing to remind.
                await self.repo.skip_reminder(session, doc["_id"])
                return str(doc["_id"])
            message = ev.ReminderDue(
                reminder_id=doc["_id"],
                appointment=snapshot(appt),
                lead_minutes=doc["lead_minutes"],
                due_at=to_timestamp(doc["due_at"]),
                occurred_at=to_timestamp(now),
            )
            await self.outbox.add(session, REMINDER_DUE, message, event_id=f"reminder:{doc['_id']}")
            _fired.add(1)
            return str(doc["_id"])

        with _tracer.start_as_current_span("scheduling.reminders.fire"):
            return await self.store.transaction(tx)

    async def run_once(self) -> int:
        fired = 0
        while fired < self.batch and await self.fire_one() is not None:
            fired += 1
        if fired:
            self.outbox.wake()
        return fired

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:  # Mongo down: try again next round
                log.warning("reminder round failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)


class SessionEndedHandler:
    """`rapport.sessions.session_ended` -> the appointment is completed (+ appointment_completed),
    applied once per event id whatever the redeliveries."""

    def __init__(
        self, store: Store, repo: SchedulingStore, outbox: Outbox, *, clock: Clock
    ) -> None:
        self.store = store
        self.repo = repo
        self.outbox = outbox
        self.clock = clock

    async def __call__(self, event: Event) -> None:
        msg = event.parse(sessions_pb2.SessionEnded)
        ended_at = msg.ended_at.ToDatetime(tzinfo=UTC) if msg.HasField("ended_at") else None
        now = self.clock()

        async def effect(session: Session) -> bool:
            appt = await self.repo.get_appointment(msg.appointment_id, session=session)
            if appt is None:
                log.warning("session_ended for an unknown appointment (event %s)", event.id)
                return False
            done = domain.complete(appt, msg.session_id, ended_at or now)
            if done is None:
                return False
            await self.repo.replace_appointment(session, done, appt.status)
            await self.repo.cancel_reminders(session, appt.appointment_id)
            await self.outbox.add(session, COMPLETED, completed(done, now))
            return True

        applied, changed = await consume_once(self.store, CONSUMER, event.id, effect)
        if applied and changed:
            self.outbox.wake()


class ClinicOf(Protocol):
    """Identity's answer to "which clinic is this therapist in now?" (api.Identity)."""

    async def clinic_of(self, therapist_id: str) -> str: ...


THERAPIST_JOINED_CLINIC = "rapport.identity.therapist_joined_clinic"
CLINIC_CONSUMER = "scheduling-therapist-joined-clinic"


class TherapistJoinedClinicHandler:
    """`rapport.identity.therapist_joined_clinic` -> the therapist's coming appointments belong
    to the new clinic, so only its admin manages them from now on (once per event id).

    It moves data across tenants, so it re-checks the fact with its owner first: identity must
    say the therapist is in that clinic now. A forged event (or a stale one, overtaken by a
    later move) changes nothing; an unreachable identity means the event is retried."""

    def __init__(
        self, store: Store, repo: SchedulingStore, *, clock: Clock, identity: ClinicOf
    ) -> None:
        self.store = store
        self.repo = repo
        self.clock = clock
        self.identity = identity

    async def __call__(self, event: Event) -> None:
        msg = event.parse(identity_events.TherapistJoinedClinic)
        confirmed = bool(msg.clinic_id) and (
            await self.identity.clinic_of(msg.therapist_id) == msg.clinic_id
        )

        async def effect(session: Session) -> int:
            if not confirmed:
                log.warning(
                    "therapist_joined_clinic %s not confirmed by identity: ignored", event.id
                )
                return 0
            return await self.repo.move_to_clinic(
                session, msg.therapist_id, msg.clinic_id, now=self.clock()
            )

        await consume_once(self.store, CLINIC_CONSUMER, event.id, effect)


PAYMENT_AUTHORIZED = "rapport.billing.payment_authorized"
PAYMENT_CONSUMER = "scheduling-payment-authorized"


class PaymentAuthorizedHandler:
    """`rapport.billing.payment_authorized` -> the paid hold becomes a confirmed appointment
    (+ appointment_confirmed), once per event id. A hold that expired, or an appointment that is
    no longer held, is left alone: billing voids an authorization whose hold lapsed."""

    def __init__(
        self,
        store: Store,
        repo: SchedulingStore,
        outbox: Outbox,
        *,
        clock: Clock,
        reminder_leads_minutes: tuple[int, ...],
    ) -> None:
        self.store = store
        self.repo = repo
        self.outbox = outbox
        self.clock = clock
        self.leads = reminder_leads_minutes

    async def __call__(self, event: Event) -> None:
        msg = event.parse(billing_events.PaymentAuthorized)
        now = self.clock()

        async def effect(session: Session) -> bool:
            appt = await self.repo.get_appointment(msg.appointment_id, session=session)
            if appt is None:
                log.warning("payment_authorized for an unknown appointment (event %s)", event.id)
                return False
            done = domain.confirm_paid(appt, now)
            if done is None or not await self.repo.make_permanent(session, appt, now):
                return False
            await self.repo.replace_appointment(session, done, appt.status)
            await self.repo.add_reminders(
                session, domain.reminders_for(done, self.leads, now), done
            )
            await self.outbox.add(session, CONFIRMED, confirmed(done, now))
            return True

        applied, changed = await consume_once(self.store, PAYMENT_CONSUMER, event.id, effect)
        if applied and changed:
            self.outbox.wake()

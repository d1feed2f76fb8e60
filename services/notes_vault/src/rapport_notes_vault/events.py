"""How notes-vault learns who treats whom: its own projection of scheduling's appointment events
(never scheduling's database). Each event applies once (consume_once); an older state never
overwrites a newer one, whatever order redeliveries come in."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC

from rapport.events.v1 import scheduling_pb2 as sched
from rapport_platform.bus import Event
from rapport_platform.outbox import consume_many, consume_once
from rapport_platform.store import Session, Store

from rapport_notes_vault.store import NotesStore

log = logging.getLogger(__name__)

SCHEDULING_EVENTS = "rapport.scheduling.>"
CONSUMER = "notes-vault-appointments"
# Every scheduling event whose first field is the appointment snapshot.
APPOINTMENT_EVENTS = {
    "rapport.scheduling.appointment_booked": sched.AppointmentBooked,
    "rapport.scheduling.appointment_confirmed": sched.AppointmentConfirmed,
    "rapport.scheduling.appointment_rescheduled": sched.AppointmentRescheduled,
    "rapport.scheduling.appointment_cancelled": sched.AppointmentCancelled,
    "rapport.scheduling.appointment_no_show": sched.AppointmentNoShow,
    "rapport.scheduling.appointment_completed": sched.AppointmentCompleted,
}


class AppointmentProjection:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.repo = NotesStore(store)

    def _effect(self, event: Event) -> Callable[[Session], Awaitable[None]] | None:
        cls = APPOINTMENT_EVENTS.get(event.subject)
        if cls is None:
            return None  # reminders and the rest say nothing about care relationships
        msg = event.parse(cls)
        a = msg.appointment
        if not a.appointment_id:
            log.warning("appointment event without an appointment (event %s)", event.id)
            return None
        as_of = msg.occurred_at.ToDatetime(tzinfo=UTC)
        snapshot = {
            "_id": a.appointment_id,
            "therapist_id": a.therapist_id,
            "client_id": a.client_id,
            "clinic_id": a.clinic_id,
            "status": a.status,
            "start": a.start.ToDatetime(tzinfo=UTC),
        }

        async def effect(session: Session) -> None:
            await self.repo.apply_appointment(session, snapshot, as_of)

        return effect

    async def __call__(self, event: Event) -> None:
        effect = self._effect(event)
        if effect is not None:
            await consume_once(self.store, CONSUMER, event.id, effect)

    async def many(self, events: Sequence[Event]) -> None:
        """A backlog's events in one transaction (the consumer falls back to one at a time)."""
        work = [(e.id, effect) for e in events if (effect := self._effect(e)) is not None]
        await consume_many(self.store, CONSUMER, work)

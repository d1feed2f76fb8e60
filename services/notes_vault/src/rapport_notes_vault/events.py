"""How notes-vault learns who treats whom: its own projection of scheduling's appointment events
(never scheduling's database). Each event applies once (consume_once); an older state never
overwrites a newer one, whatever order redeliveries come in."""

from __future__ import annotations

import logging
from datetime import UTC

from rapport.events.v1 import scheduling_pb2 as sched
from rapport_platform.bus import Event
from rapport_platform.outbox import consume_once
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

    async def __call__(self, event: Event) -> None:
        cls = APPOINTMENT_EVENTS.get(event.subject)
        if cls is None:
            return  # reminders and the rest say nothing about care relationships
        msg = event.parse(cls)
        a = msg.appointment
        if not a.appointment_id:
            log.warning("appointment event without an appointment (event %s)", event.id)
            return
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

        await consume_once(self.store, CONSUMER, event.id, effect)

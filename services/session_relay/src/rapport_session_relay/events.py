"""What the relay publishes (through the outbox, in the transaction of the room change) and how
it reacts to scheduling's cancellations and reschedules. Ids, times and counts only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from rapport.events.v1 import scheduling_pb2 as sched
from rapport.events.v1 import sessions_pb2 as ev
from rapport_platform.bus import Event
from rapport_platform.timestamps import to_timestamp

from rapport_session_relay import domain

STARTED = "rapport.sessions.session_started"
ENDED = "rapport.sessions.session_ended"
CANCELLED = "rapport.scheduling.appointment_cancelled"
RESCHEDULED = "rapport.scheduling.appointment_rescheduled"
# Durable consumer names: <consumer_prefix><suffix> (the prefix is a setting).
CANCELLED_SUFFIX = "-appointment-cancelled"
RESCHEDULED_SUFFIX = "-appointment-rescheduled"


def started(room: domain.Room, now: datetime) -> ev.SessionStarted:
    return ev.SessionStarted(
        appointment_id=room.appointment_id,
        session_id=room.session_id,
        started_at=to_timestamp(room.started_at),
        modality=room.modality,
        therapist_id=room.therapist_id,
        client_id=room.client_id,
        occurred_at=to_timestamp(now),
    )


def ended(room: domain.Room, now: datetime) -> ev.SessionEnded:
    return ev.SessionEnded(
        appointment_id=room.appointment_id,
        session_id=room.session_id,
        started_at=to_timestamp(room.started_at),
        ended_at=to_timestamp(room.ended_at),
        connected_seconds=round(room.both_seconds),
        modality=room.modality,
        occurred_at=to_timestamp(now),
        participants=[
            ev.ParticipantSeconds(
                user_id=m.user_id, role=role, seconds=domain.seconds_of(room, role)
            )
            for role, m in sorted(room.members.items())
        ],
        ended_by=room.ended_by,
        client_joined=room.client_joined,
        therapist_id=room.therapist_id,
        client_id=room.client_id,
    )


Revoke = Callable[[str, domain.Revocation, str], Awaitable[None]]


def revocation_handler(revoke: Revoke, *, cancelled: bool) -> Callable[[Event], Awaitable[None]]:
    """appointment_cancelled / appointment_rescheduled -> the appointment's tokens are revoked
    and its live room closes (once per event id: `revoke` records it with consume_once)."""

    async def handle(event: Event) -> None:
        cls = sched.AppointmentCancelled if cancelled else sched.AppointmentRescheduled
        msg = event.parse(cls)
        at = (
            msg.occurred_at.ToDatetime(tzinfo=UTC)
            if msg.HasField("occurred_at")
            else datetime.now(UTC)
        )
        # A reschedule revokes what was issued up to the event (a millisecond of slack for
        # the stored precision); a cancellation revokes everything.
        rev = domain.Revocation(
            msg.appointment.appointment_id, cancelled, at + timedelta(milliseconds=1)
        )
        await revoke(event.id, rev, "cancelled" if cancelled else "rescheduled")

    return handle

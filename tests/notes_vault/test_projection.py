"""The care-relationship projection: scheduling's events applied once each, the newest state
winning whatever order they arrive in (real JetStream, the session's notes-vault consuming)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import nats
from rapport.events.v1 import scheduling_pb2 as sched
from rapport_platform.timestamps import to_timestamp

from tests.notes_vault.helpers import wait_for


async def test_events_apply_once_and_never_go_back_in_time(stack, notes_app, notes_db):
    appt, t0 = f"proj-{uuid.uuid4().hex[:8]}", datetime.now(UTC)

    def snapshot(status: str) -> sched.ScheduledAppointment:
        return sched.ScheduledAppointment(
            appointment_id=appt, therapist_id="t-proj", client_id="c-proj", clinic_id="k",
            status=status, start=to_timestamp(t0 + timedelta(days=1)),
        )  # fmt: skip

    nc = await nats.connect(stack.deps.nats_url)
    js = nc.jetstream()

    async def publish(subject: str, msg, event_id: str, msg_id: str | None = None) -> None:
        await js.publish(
            f"rapport.scheduling.{subject}",
            msg.SerializeToString(),
            headers={"ce-id": event_id, "ce-type": subject, "Nats-Msg-Id": msg_id or event_id},
        )

    async def status() -> str | None:
        doc = await notes_db["appointments"].find_one({"_id": appt})
        return doc and doc["status"]

    try:
        confirmed = f"e-{uuid.uuid4()}"
        await publish(
            "appointment_confirmed",
            sched.AppointmentConfirmed(
                appointment=snapshot("confirmed"), occurred_at=to_timestamp(t0)
            ),
            confirmed,
        )
        await wait_for(lambda: _is(status, "confirmed"), what="confirmed")
        cancelled = f"e-{uuid.uuid4()}"
        await publish(
            "appointment_cancelled",
            sched.AppointmentCancelled(
                appointment=snapshot("cancelled"),
                occurred_at=to_timestamp(t0 + timedelta(minutes=5)),
            ),
            cancelled,
        )
        await wait_for(lambda: _is(status, "cancelled"), what="cancelled")
        # The confirmation delivered again (a redelivery past JetStream's dedup) and an older
        # booking arriving late: neither brings the appointment back.
        await publish(
            "appointment_confirmed",
            sched.AppointmentConfirmed(
                appointment=snapshot("confirmed"), occurred_at=to_timestamp(t0)
            ),
            confirmed,
            msg_id=f"again-{confirmed}",
        )
        late = f"e-{uuid.uuid4()}"
        await publish(
            "appointment_booked",
            sched.AppointmentBooked(
                appointment=snapshot("confirmed"),
                occurred_at=to_timestamp(t0 - timedelta(minutes=5)),
            ),
            late,
        )
        await wait_for(
            lambda: notes_db["processed_events"].find_one(
                {"_id": f"notes-vault-appointments:{late}"}
            ),
            what="the late event to be processed",
        )
        assert await status() == "cancelled"
        assert (
            await notes_db["processed_events"].count_documents(
                {"_id": f"notes-vault-appointments:{confirmed}"}
            )
            == 1
        )
    finally:
        await nc.close()


async def _is(status, expected: str) -> bool:
    return await status() == expected

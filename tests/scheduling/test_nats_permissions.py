"""NATS is not open (issue 13, item 9): each service its own user, publishing only its own
subjects and consuming only the streams it reads; nobody connects without a password."""

from __future__ import annotations

import uuid

import nats
import nats.errors
import nats.js.errors
import pytest
from rapport.events.v1 import identity_pb2 as identity_events

from tests.waiting import eventually

SUBJECT = "rapport.identity.therapist_joined_clinic"


async def connect(url: str, errors: list[str]) -> nats.aio.client.Client:
    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    return await nats.connect(url, error_cb=on_error, allow_reconnect=False, connect_timeout=5)


async def stored(nc, subject: str) -> int:
    js = nc.jetstream()
    try:
        info = await js.stream_info("RAPPORT_IDENTITY", subjects_filter=subject)
    except nats.js.errors.NotFoundError:
        return 0
    return (info.state.subjects or {}).get(subject, 0)


async def test_a_forged_therapist_joined_clinic_from_another_service_is_refused(stack):
    errors: list[str] = []
    admin = await connect(stack.deps.nats_url, [])
    forger = await connect(stack.deps.nats_url_for("scheduling"), errors)
    try:
        # The stream exists (identity made it), so a forged event would be stored if allowed.
        await admin.jetstream().add_stream(
            name="RAPPORT_IDENTITY", subjects=["rapport.identity.>"], duplicate_window=24 * 3600.0
        )
        before = await stored(admin, SUBJECT)
        forged = identity_events.TherapistJoinedClinic(
            therapist_id=str(uuid.uuid4()), clinic_id=str(uuid.uuid4())
        )
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await forger.jetstream(timeout=2).publish(SUBJECT, forged.SerializeToString())
        await eventually(lambda: any("permissions violation" in e.lower() for e in errors))
        assert await stored(admin, SUBJECT) == before
        # Core NATS too: a plain publish on the subject is refused by the server.
        errors.clear()
        await forger.publish(SUBJECT, forged.SerializeToString())
        await forger.flush()
        await eventually(lambda: any("permissions violation" in e.lower() for e in errors))
    finally:
        await forger.close()
        await admin.close()


async def test_identity_may_publish_its_own_fact(stack):
    nc = await connect(stack.deps.nats_url_for("identity"), [])
    try:
        ack = await nc.jetstream(timeout=5).publish(
            "rapport.identity.permission_probe", b"", headers={"Nats-Msg-Id": str(uuid.uuid4())}
        )
        assert ack.stream == "RAPPORT_IDENTITY"
    finally:
        await nc.close()


async def test_a_service_cannot_read_a_stream_it_does_not_consume(stack):
    errors: list[str] = []
    notes = await connect(stack.deps.nats_url_for("notes-vault"), errors)
    try:
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await notes.jetstream(timeout=2).pull_subscribe(
                SUBJECT, durable="snoop", stream="RAPPORT_IDENTITY"
            )
        # Nor listen on another service's core subjects (the relay's rooms).
        errors.clear()
        await notes.subscribe("rapport.relay.room.>")
        await notes.flush()
        await eventually(lambda: any("permissions violation" in e.lower() for e in errors))
    finally:
        await notes.close()


async def test_nobody_connects_without_a_password(stack):
    with pytest.raises((nats.errors.NoServersError, nats.errors.Error, OSError)):
        nc = await nats.connect(
            stack.deps.nats.url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=3
        )
        await nc.close()
    wrong = stack.deps.nats_url_for("identity").replace(
        stack.deps.nats_passwords["identity"], "not-the-password"
    )
    with pytest.raises((nats.errors.NoServersError, nats.errors.Error, OSError)):
        nc = await nats.connect(wrong, allow_reconnect=False, max_reconnect_attempts=0)
        await nc.close()

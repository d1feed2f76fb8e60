"""Vault or Mongo down: UNAVAILABLE, readiness NOT_SERVING, nothing half-written, and recovery
without a restart. Each test runs its own notes-vault against a dependency it may stop: a real
OpenBao (raft storage, so its keys survive the restart) or a real SecantusDB."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from rapport.notes.v1 import notes_pb2 as pb
from rapport.notes.v1 import notes_pb2_grpc
from rapport_local import procs, vault_bootstrap
from rapport_notes_vault.__main__ import create as create_notes
from rapport_platform.rpc import client_channel

from conftest import start_service
from tests.notes_vault.conftest import notes_settings
from tests.notes_vault.helpers import SOAP, wait_for


def note_request(client_id: str, appointment_id: str) -> pb.CreateNoteRequest:
    return pb.CreateNoteRequest(
        client_id=client_id,
        appointment_id=appointment_id,
        kind="progress",
        content=pb.NoteContent(format="soap", sections=SOAP),
    )


async def _start(stack, **overrides):
    # No consumer: the session's notes-vault owns the projection's durable consumer. This
    # instance's projection is seeded with the one appointment the test needs.
    app = await start_service(
        create_notes(notes_settings(stack, workers_enabled=False, **overrides))
    )
    channel = client_channel(f"127.0.0.1:{app.server.port}", attempts=1, timeout_s=15)
    return app, channel, notes_pb2_grpc.NotesServiceStub(channel)


async def _seed(app, therapist, client) -> str:
    appointment_id = f"appt-{client.user_id[:8]}"
    await app.store.db["appointments"].insert_one(
        {
            "_id": appointment_id,
            "therapist_id": therapist.user_id,
            "client_id": client.user_id,
            "clinic_id": therapist.clinic_id,
            "status": "confirmed",
            "start": datetime.now(UTC),
            "as_of": datetime.now(UTC),
        }
    )
    return appointment_id


async def _recovers(app) -> None:
    await wait_for(app.server.probe_once, timeout=60, what="readiness to come back")


async def test_vault_down_unavailable_not_serving_nothing_written_then_recovers(
    stack, care, tmp_path
):
    bao, root = procs.start_bao_persistent(
        procs.free_port(), procs.free_port(), tmp_path / "bao", log_path=tmp_path / "bao.log"
    )
    tokens = vault_bootstrap.bootstrap(bao.url, root)
    app, channel, stub = await _start(stack, vault_addr=bao.url, vault_token=tokens["notes-vault"])
    t, c = await care.staff(0), await care.client()
    appt = await _seed(app, t, c)
    auth = (("authorization", f"Bearer {t.access}"),)
    try:
        first = await stub.CreateNote(note_request(c.user_id, appt), metadata=auth)
        bao.kill()
        assert not await app.server.probe_once()
        notes = await app.store.db["notes"].count_documents({})
        audit = await app.store.db["audit"].count_documents({})
        for call in (
            stub.CreateNote(note_request(c.user_id, appt), metadata=auth),
            stub.GetNote(pb.GetNoteRequest(note_id=first.note.note_id), metadata=auth),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "MARKER" not in (info.value.details() or "")
        assert await app.store.db["notes"].count_documents({}) == notes
        assert await app.store.db["audit"].count_documents({}) == audit

        bao.restart()
        await _recovers(app)
        # The same key, kept by raft: the note written before the outage opens.
        got = await stub.GetNote(pb.GetNoteRequest(note_id=first.note.note_id), metadata=auth)
        assert dict(got.content.sections) == SOAP
        await stub.CreateNote(note_request(c.user_id, appt), metadata=auth)
    finally:
        await channel.close()
        await app.stop(0)
        bao.stop()


async def test_mongo_down_unavailable_not_serving_nothing_written_then_recovers(
    stack, care, tmp_path
):
    mongo = procs.start_secantus(
        procs.free_port(), str(tmp_path / "db"), log_path=tmp_path / "mongo.log"
    )
    app, channel, stub = await _start(stack, mongo_uri=mongo.url)
    t, c = await care.staff(0), await care.client()
    appt = await _seed(app, t, c)
    auth = (("authorization", f"Bearer {t.access}"),)
    try:
        await stub.CreateNote(note_request(c.user_id, appt), metadata=auth)
        mongo.stop()  # a clean stop: SecantusDB may lose unflushed writes on SIGKILL
        assert not await app.server.probe_once()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.CreateNote(note_request(c.user_id, appt), metadata=auth)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        mongo.restart()
        await _recovers(app)
        # Exactly the one note from before the outage, and its audit entry beside it.
        assert await app.store.db["notes"].count_documents({}) == 1
        actions = [e["action"] async for e in app.store.db["audit"].find({})]
        assert actions.count("note.create") == 1
        await stub.CreateNote(note_request(c.user_id, appt), metadata=auth)
        assert await app.store.db["notes"].count_documents({}) == 2
    finally:
        await channel.close()
        await app.stop(0)
        mongo.stop()

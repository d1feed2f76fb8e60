"""OpenBao killed under a stream of note writes, then started again (raft storage, so its keys
survive). While it is gone notes-vault answers 503 (UNAVAILABLE) and is NOT_SERVING; it never
stores plaintext nor a note it could not encrypt whole; when Vault returns it serves again by
itself (no restart), and every note it acknowledged opens with exactly what was written."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import bson
import httpx
from rapport_gateway.settings import GatewaySettings
from rapport_local import procs, vault_bootstrap
from rapport_notes_vault.__main__ import create as create_notes
from rapport_notes_vault.settings import NotesVaultSettings
from rapport_platform.rpc import check_health, client_channel

from conftest import Gateway, start_service, unique_db
from tests.notes_vault.helpers import Care, marker, soap
from tests.scheduling.helpers import Practice
from tests.waiting import eventually

WRITERS = 2


@dataclass
class Write:
    marker: str
    status: int
    note_id: str = ""
    after_kill: bool = False
    after_restart: bool = False


async def test_vault_down_notes_unavailable_nothing_plain_nothing_partial_then_recovers(
    rstack, rclinic, tmp_path
):
    bao, root = await asyncio.to_thread(
        procs.start_bao_persistent,
        procs.free_port(),
        procs.free_port(),
        tmp_path / "bao",
        log_path=tmp_path / "bao.log",
    )
    tokens = await asyncio.to_thread(vault_bootstrap.bootstrap, bao.url, root)
    settings = NotesVaultSettings(
        grpc_port=procs.free_port(),
        mongo_uri=rstack.mongo.url,
        mongo_db=unique_db("notes"),
        nats_url=rstack.nats_url_for("notes-vault"),
        identity_addr=rstack.identity_addr,
        vault_addr=bao.url,
        vault_token=tokens["notes-vault"],
        drain_seconds=0.2,
        jobs_interval_seconds=86400,
    )
    notes = await start_service(create_notes(settings))
    gw_settings = GatewaySettings(
        http_port=procs.free_port(),
        identity_addr=rstack.identity_addr,
        scheduling_addr=rstack.scheduling_addr,
        notes_vault_addr=f"127.0.0.1:{notes.server.port}",  # type: ignore[union-attr]
    )
    db = rstack.mongo_client[settings.mongo_db]
    channel = client_channel(gw_settings.notes_vault_addr, attempts=1, timeout_s=5)
    writes: list[Write] = []
    state = {"killed": False, "restarted": False}
    stop = asyncio.Event()
    try:
        async with (
            Gateway(gw_settings) as gateway,
            httpx.AsyncClient(base_url=gateway.url, timeout=60) as http,
        ):
            care = Care(http, db)
            care.practice = Practice(http)
            care.practice.admin = rclinic.admin
            therapist = await care.therapist()
            client = await care.practice.client()
            appointment_id = await care.book(client, therapist)

            async def writer() -> None:
                while not stop.is_set():
                    w = Write(marker(), 0, after_kill=state["killed"])
                    w.after_restart = state["restarted"]
                    r = await http.post(
                        f"/v1/clients/{client.user_id}/notes",
                        headers=therapist.h,
                        json={
                            "appointment_id": appointment_id,
                            "kind": "progress",
                            "sections": soap(w.marker),
                        },
                    )
                    w.status = r.status_code
                    if r.status_code == 201:
                        w.note_id = r.json()["note_id"]
                    else:
                        assert w.marker not in r.text
                        await asyncio.sleep(0.05)  # a client's pause before trying again
                    writes.append(w)

            def count(**what) -> int:
                return sum(1 for w in writes if all(getattr(w, k) == v for k, v in what.items()))

            tasks = [asyncio.create_task(writer()) for _ in range(WRITERS)]
            try:
                await eventually(lambda: count(status=201) >= 2, timeout=60, what="notes before")
                await asyncio.to_thread(bao.kill)
                state["killed"] = True
                await eventually(
                    lambda: count(after_kill=True, status=503) >= 3,
                    timeout=60,
                    what="refusals while Vault is down",
                )
                # Its own readiness says so (the gateway stays in rotation: notes are optional
                # to it, bookings and sessions go on).
                assert not await notes.server.probe_once()
                assert not await check_health(channel)
                await asyncio.to_thread(bao.restart)
                state["restarted"] = True
                # Back by itself: notes-vault was not restarted.
                await eventually(
                    lambda: count(after_restart=True, status=201) >= 2,
                    timeout=90,
                    what="notes written again once Vault is back",
                )
            finally:
                stop.set()
                await asyncio.gather(*tasks)
            await eventually(notes.server.probe_once, timeout=60, what="SERVING again")
            assert notes.server.serving and await check_health(channel)

            assert {w.status for w in writes} <= {201, 503}, sorted({w.status for w in writes})
            # Refused while Vault was down, and only then (one write may straddle the kill).
            assert count(after_restart=True, status=503) == 0
            ok = [w for w in writes if w.status == 201]
            # Every acknowledged note opens whole, with exactly what was written.
            for w in ok:
                r = await http.get(f"/v1/notes/{w.note_id}", headers=therapist.h)
                assert r.status_code == 200, r.text
                assert r.json()["sections"] == soap(w.marker)
            # No partial note: the notes stored are exactly those acknowledged, each audited.
            stored = [d["_id"] async for d in db["notes"].find({}, {"_id": 1})]
            assert sorted(stored) == sorted(w.note_id for w in ok)
            audited = await db["audit"].count_documents({"action": "note.create"})
            assert audited == len(ok)
            # No plaintext anywhere in notes-vault's database, of any note, written or refused.
            markers = [w.marker.encode() for w in writes]
            for name in await db.list_collection_names():
                async for doc in db[name].find({}):
                    raw = bson.encode(doc)
                    assert not any(m in raw for m in markers), name
    finally:
        await channel.close()
        await asyncio.wait_for(notes.stop(0), 60)
        await asyncio.to_thread(bao.stop)

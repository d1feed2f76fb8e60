"""A rolling restart of two session-relay replicas during live rooms. Replica A (in this process)
restarts first, then replica B (its own OS process, SIGTERM). Each replica tells its sockets to
reconnect (1012); participants reconnect to the replica that is up, stay admitted, and the
conversation in every room goes on across both restarts."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
from rapport_gateway.settings import GatewaySettings
from rapport_local import procs
from rapport_session_relay.__main__ import create as create_relay
from rapport_session_relay.settings import SessionRelaySettings

from conftest import Gateway, start_service, unique_db
from tests.session_relay.helpers import TOKEN_SECRET, WAIT, admitted_pair, book_session, join
from tests.waiting import eventually

ROOMS = 2
GOING_AWAY = 1012


def relay_settings(rstack, db: str) -> SessionRelaySettings:
    http_port = procs.free_port()
    return SessionRelaySettings(
        grpc_port=procs.free_port(),
        http_port=http_port,
        mongo_uri=rstack.mongo.url,
        mongo_db=db,
        nats_url=rstack.nats_url_for("session-relay"),
        identity_addr=rstack.identity_addr,
        scheduling_addr=rstack.scheduling_addr,
        drain_seconds=0.2,
        token_secret=TOKEN_SECRET,
        join_lead_minutes=24 * 60,  # any appointment booked today can be joined now
        sweep_seconds=0.5,
        public_url=f"http://127.0.0.1:{http_port}",
    )


def relay_process(settings: SessionRelaySettings, log_path) -> procs.Proc:
    p = "RAPPORT_SESSION_RELAY_"
    env = {
        **os.environ,
        f"{p}GRPC_PORT": str(settings.grpc_port),
        f"{p}HTTP_PORT": str(settings.http_port),
        f"{p}MONGO_URI": settings.mongo_uri,
        f"{p}MONGO_DB": settings.mongo_db,
        f"{p}NATS_URL": settings.nats_url,
        f"{p}IDENTITY_ADDR": settings.identity_addr,
        f"{p}SCHEDULING_ADDR": settings.scheduling_addr,
        f"{p}TOKEN_SECRET": TOKEN_SECRET,
        f"{p}JOIN_LEAD_MINUTES": str(settings.join_lead_minutes),
        f"{p}PUBLIC_URL": settings.public_url,
        f"{p}DRAIN_SECONDS": "0.2",
    }
    return procs.Proc(
        "relay-b",
        [sys.executable, "-m", "rapport_session_relay"],
        port=settings.http_port,
        url=settings.public_url,
        env=env,
        log_path=log_path,
        ready=lambda proc, t: procs.wait_for_http(f"{settings.public_url}/readyz", t, proc=proc),
        ready_timeout=90,
    )


def sees_both(peer) -> bool:
    """The peer's latest word on the room: both participants connected."""
    states = [f for f in peer.frames if f.get("type") in ("welcome", "presence")]
    return bool(states) and states[-1]["therapist"] == states[-1]["client"] == "present"


async def exchange(rooms, n: int) -> None:
    """One message each way in every room, each seen by the other participant. Like the web
    client, a participant speaks once the room shows the other one connected."""
    for therapist, client in rooms:
        for peer in (therapist, client):
            await eventually(lambda p=peer: sees_both(p), timeout=WAIT, what="both present")
    for i, (therapist, client) in enumerate(rooms):
        await client.send({"type": "chat", "text": f"client says {n}", "id": f"c{n}-{i}"})
        await therapist.send({"type": "chat", "text": f"therapist says {n}", "id": f"t{n}-{i}"})
    for i, (therapist, client) in enumerate(rooms):
        got = await therapist.wait_type("chat", id=f"c{n}-{i}")
        assert got["text"] == f"client says {n}"
        got = await client.wait_type("chat", id=f"t{n}-{i}")
        assert got["text"] == f"therapist says {n}"
    for therapist, client in rooms:  # no message was refused on the way
        for peer in (therapist, client):
            assert not [f for f in peer.frames if f.get("type") == "error"], peer.frames


async def test_rolling_restart_of_two_relays_rooms_carry_on(rstack, rclinic, tmp_path):
    db = unique_db("relay")
    a = relay_settings(rstack, db)
    b = relay_settings(rstack, db)
    relay_a = await start_service(create_relay(a))
    relay_b = relay_process(b, tmp_path / "relay-b.log")
    await asyncio.to_thread(relay_b.start)
    gw = GatewaySettings(
        http_port=procs.free_port(),
        identity_addr=rstack.identity_addr,
        scheduling_addr=rstack.scheduling_addr,
        session_relay_addr=f"127.0.0.1:{a.grpc_port}",
    )
    peers = []
    try:
        async with (
            Gateway(gw) as gateway,
            httpx.AsyncClient(base_url=gateway.url, timeout=60) as http,
        ):
            booked = [await book_session(rclinic, http) for _ in range(ROOMS)]
        rooms = [await admitted_pair(a, b, room) for room in booked]  # therapists on A
        peers += [p for room in rooms for p in room]
        await exchange(rooms, 1)

        # 1. Replica A restarts: its therapists are told to reconnect and do, to B.
        await asyncio.wait_for(relay_a.stop(0.2), 60)
        for therapist, _ in rooms:
            assert await therapist.closed() == GOING_AWAY
        rooms = [
            (await join(b, room, "therapist"), client)
            for room, (_, client) in zip(booked, rooms, strict=True)
        ]
        peers += [t for t, _ in rooms]
        await exchange(rooms, 2)
        relay_a = await start_service(create_relay(a))  # the new A, same address

        # 2. Replica B restarts (SIGTERM): everyone is on B; all reconnect, to A.
        restarting = asyncio.create_task(asyncio.to_thread(relay_b.restart))
        for therapist, client in rooms:
            assert await therapist.closed() == GOING_AWAY
            assert await client.closed() == GOING_AWAY
        rooms = [
            (await join(a, room, "therapist"), await join(a, room, "client")) for room in booked
        ]
        peers += [p for room in rooms for p in room]
        for _, client in rooms:
            frame = await client.wait_type("welcome")
            assert frame["admitted"] is True  # admission survived both restarts
        await exchange(rooms, 3)
        await asyncio.wait_for(restarting, 120)

        # Both replicas are new; clients move back to B and the conversation goes on.
        moved = [
            (t, await join(b, room, "client")) for room, (t, _) in zip(booked, rooms, strict=True)
        ]
        peers += [c for _, c in moved]
        await exchange(moved, 4)
    finally:
        for peer in peers:
            if peer.close_code is None:
                await peer.close()
        await asyncio.wait_for(relay_a.stop(0), 60)
        await asyncio.to_thread(relay_b.stop)

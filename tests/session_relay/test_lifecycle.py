"""The room is bounded by the booking: scheduling's cancellation or reschedule revokes its tokens
and closes it at once; at the booked end plus grace it closes whatever the clients do."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from rapport.events.v1 import sessions_pb2
from rapport_session_relay.__main__ import create as create_relay

from conftest import start_service
from tests.scheduling.helpers import rfc3339
from tests.session_relay.helpers import (
    ShiftedClock,
    admitted_pair,
    book_session,
    claim_start,
    join,
    open_socket,
    relay_settings,
)
from tests.session_relay.test_room import _event


async def _hello(settings, booked, token: str) -> int | None:
    peer = await open_socket(settings, booked.appointment_id)
    await peer.send({"type": "hello", "token": token})
    return await peer.closed()


async def test_cancelling_closes_the_live_room_and_revokes_its_tokens(
    stack, relay, rpractice, rhttp
):
    booked = await book_session(rpractice, rhttp)
    s = relay.settings
    therapist, client = await admitted_pair(s, s, booked)
    r = await rhttp.post(
        f"/v1/appointments/{booked.appointment_id}/cancel", headers=booked.client.h, json={}
    )
    assert r.status_code == 200, r.text
    assert await client.closed() == 4002
    assert await therapist.closed() == 4002
    assert await _hello(s, booked, booked.tokens["therapist"]["token"]) == 4002
    ended, _ = await _event(
        stack.deps.nats_url,  # the tests' user reads any stream
        "rapport.sessions.session_ended",
        booked.appointment_id,
        sessions_pb2.SessionEnded,
    )
    assert ended.ended_by == "revoked"


async def test_rescheduling_revokes_old_tokens_new_ones_work(relay, rpractice, rhttp):
    booked = await book_session(rpractice, rhttp, modality="chat")
    s = relay.settings
    waiting = await join(s, booked, "client")  # in the waiting room, not started
    new_start = claim_start(rpractice)
    r = await rhttp.post(
        f"/v1/appointments/{booked.appointment_id}/reschedule",
        headers=booked.therapist.h,
        json={"start": rfc3339(new_start)},
    )
    assert r.status_code == 200, r.text
    assert await waiting.closed() == 4002
    assert await _hello(s, booked, booked.tokens["client"]["token"]) == 4002
    for who in (booked.therapist, booked.client):
        t = await rhttp.post(
            f"/v1/appointments/{booked.appointment_id}/session-token", headers=who.h
        )
        assert t.status_code == 200, t.text
        booked.tokens[who.role] = t.json()
        assert datetime.fromisoformat(t.json()["closes_at"]) > booked.end
    therapist, client = await admitted_pair(s, s, booked)
    await client.send({"type": "chat", "text": "new time works", "id": "n"})
    assert (await therapist.wait_type("chat", id="n"))["text"] == "new time works"
    await therapist.close()
    await client.close()


async def test_time_up_closes_the_room_for_both(stack, relay, rpractice, rhttp):
    booked = await book_session(rpractice, rhttp, minutes=30)
    closes_at = datetime.fromisoformat(booked.tokens["client"]["closes_at"])
    # A replica whose clock jumps past the close once the session runs (whatever the
    # participants do, the sweep closes the room).
    clock = ShiftedClock()
    late = relay_settings(stack, relay.settings.mongo_db)
    app = await start_service(create_relay(late, clock=clock))
    try:
        therapist, client = await admitted_pair(late, late, booked)
        clock.offset = closes_at + timedelta(seconds=1) - datetime.now(UTC)
        assert (await client.wait_type("end"))["by"] == "time_up"
        assert await client.closed() == 4001
        assert await therapist.closed() == 4001
        ended, _ = await _event(
            stack.deps.nats_url,
            "rapport.sessions.session_ended",
            booked.appointment_id,
            sessions_pb2.SessionEnded,
        )
        assert ended.ended_by == "time_up" and ended.client_joined
        # Too late to come back.
        assert await _hello(late, booked, booked.tokens["client"]["token"]) == 4401
    finally:
        await app.stop(0)


async def test_a_room_everyone_left_still_ends_at_time_up(stack, relay, rpractice, rhttp):
    booked = await book_session(rpractice, rhttp, minutes=30)
    closes_at = datetime.fromisoformat(booked.tokens["client"]["closes_at"])
    clock = ShiftedClock()
    late = relay_settings(stack, relay.settings.mongo_db)
    app = await start_service(create_relay(late, clock=clock))
    try:
        therapist = await join(late, booked, "therapist")  # the client never comes
        await therapist.close()
        clock.offset = closes_at + timedelta(seconds=1) - datetime.now(UTC)
        ended, _ = await _event(
            stack.deps.nats_url,
            "rapport.sessions.session_ended",
            booked.appointment_id,
            sessions_pb2.SessionEnded,
        )
        assert ended.ended_by == "time_up" and not ended.client_joined
        assert ended.connected_seconds == 0
        assert {p.role for p in ended.participants} == {"therapist"}
    finally:
        await app.stop(0)


async def test_active_connections_metric(relay, rpractice, rhttp, telemetry):
    booked = await book_session(rpractice, rhttp, minutes=30)
    s = relay.settings

    def active() -> int:
        data = telemetry.metrics.get_metrics_data()
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == "rapport.sessions.active":
                        return sum(p.value for p in m.data.data_points)
        raise AssertionError("rapport.sessions.active is not exported")

    before = active()
    therapist, client = await admitted_pair(s, s, booked)
    assert active() == before + 2
    await client.close()

    async def dropped() -> None:
        while active() != before + 1:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(dropped(), 20)
    await therapist.close()


async def test_a_nats_restart_does_not_end_the_session(stack, relay, rpractice, rhttp):
    booked = await book_session(rpractice, rhttp, modality="chat", minutes=30)
    s = relay.settings
    therapist, client = await admitted_pair(s, s, booked)
    stack.deps.nats.kill()
    await asyncio.to_thread(stack.deps.nats.restart)

    async def delivered() -> None:
        """The relay reconnects and resubscribes by itself: a message gets through again."""
        for i in range(1000):
            await client.send({"type": "chat", "text": "are you there?", "id": f"r{i}"})
            try:
                await therapist.wait_for(
                    lambda f, i=i: f.get("type") == "chat" and f.get("id") == f"r{i}", 0.5
                )
                return
            except TimeoutError:
                continue

    await asyncio.wait_for(delivered(), 30)
    assert client.close_code is None and therapist.close_code is None  # never dropped
    await therapist.close()
    await client.close()

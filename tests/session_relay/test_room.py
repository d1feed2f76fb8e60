"""The room as two people use it: hello, waiting room, admission, chat both ways, typing,
WebRTC signalling passed through untouched, the therapist ends; the facts go out as events and
scheduling completes the appointment."""

from __future__ import annotations

import asyncio
import json

import nats
from rapport.events.v1 import sessions_pb2

from tests.session_relay.helpers import WAIT, admitted_pair, book_session, join


async def _event(nats_url: str, subject: str, appointment_id: str, cls):
    """The event of this appointment on the sessions stream (read from the start)."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(subject, ordered_consumer=True)

        async def find():
            async for msg in sub.messages:
                ev = cls()
                ev.ParseFromString(msg.data)
                if ev.appointment_id == appointment_id:
                    return ev, dict(msg.headers or {})

        return await asyncio.wait_for(find(), WAIT)
    finally:
        await nc.close()


async def test_a_whole_session(relay, rpractice, rhttp, stack):
    booked = await book_session(rpractice, rhttp)
    s = relay.settings
    therapist = await join(s, booked, "therapist")
    client = await join(s, booked, "client")
    # The client waits until the therapist admits; nothing passes before.
    await client.wait_for(lambda f: f.get("type") == "presence" and f["client"] == "waiting")
    await client.send({"type": "chat", "text": "hello?"})
    err = await client.wait_type("error")
    assert err["code"] == 4403
    await therapist.wait_for(lambda f: f.get("type") == "presence" and f["client"] == "waiting")
    await therapist.send({"type": "admit"})
    await client.wait_type("admit")
    await client.wait_for(lambda f: f.get("type") == "presence" and f["client"] == "present")
    await therapist.wait_for(lambda f: f.get("type") == "presence" and f["client"] == "present")

    await therapist.send({"type": "chat", "text": "Good morning. How was the week?", "id": "m1"})
    got = await client.wait_type("chat", id="m1")
    assert got["text"] == "Good morning. How was the week?" and got["from"] == "therapist"
    await client.send({"type": "chat", "text": "Better than the last one."})
    got = await therapist.wait_type("chat", **{"from": "client"})
    assert got["text"] == "Better than the last one."
    # The sender does not get its own chat back.
    assert not [f for f in therapist.frames if f.get("type") == "chat" and f["from"] == "therapist"]

    await client.send({"type": "typing", "active": True})
    assert (await therapist.wait_type("typing"))["active"] is True
    offer = {
        "type": "offer",
        "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n",
        "extra": [1, {"a": None}],
    }
    await therapist.send({"type": "signal", "data": offer})
    assert (await client.wait_type("signal"))["data"] == offer  # untouched

    # A client may neither admit nor end.
    await client.send({"type": "end"})
    assert await client.wait_for(lambda f: f.get("type") == "error" and "end" in f["message"])
    await therapist.send({"type": "end"})
    assert (await client.wait_type("end"))["by"] == "therapist"
    assert await client.closed() == 4000
    assert await therapist.closed() == 4000

    ended, headers = await _event(
        stack.deps.nats_url,  # the tests' user reads any stream
        "rapport.sessions.session_ended",
        booked.appointment_id,
        sessions_pb2.SessionEnded,
    )
    assert ended.ended_by == "therapist" and ended.client_joined and ended.modality == "video"
    roles = {p.role: p for p in ended.participants}
    assert roles["therapist"].user_id == booked.therapist.user_id
    assert roles["client"].user_id == booked.client.user_id
    assert ended.connected_seconds >= 0 and ended.ended_at.seconds >= ended.started_at.seconds
    started, _ = await _event(
        stack.deps.nats_url,  # the tests' user reads any stream
        "rapport.sessions.session_started",
        booked.appointment_id,
        sessions_pb2.SessionStarted,
    )
    assert started.session_id == ended.session_id
    # Ids only in the headers; chat text nowhere in the event.
    assert (
        "Better than" not in json.dumps(headers) and b"Better than" not in ended.SerializeToString()
    )

    # Scheduling consumed session_ended: the appointment is completed.
    async def completed() -> None:
        while True:
            r = await rhttp.get(
                f"/v1/appointments/{booked.appointment_id}", headers=booked.client.h
            )
            if r.json()["status"] == "completed":
                return
            await asyncio.sleep(0.2)

    await asyncio.wait_for(completed(), WAIT)
    # The room does not reopen.
    again = await join_refused(s, booked)
    assert again == 4000


async def join_refused(s, booked) -> int | None:
    from tests.session_relay.helpers import open_socket

    peer = await open_socket(s, booked.appointment_id)
    await peer.send({"type": "hello", "token": booked.tokens["client"]["token"]})
    return await peer.closed()


async def test_a_reconnect_replaces_the_old_socket_and_keeps_the_role(relay, rpractice, rhttp):
    booked = await book_session(rpractice, rhttp, modality="chat")
    s = relay.settings
    therapist, client = await admitted_pair(s, s, booked)
    # The therapist's network blips: a second socket with the same token takes over.
    therapist2 = await join(s, booked, "therapist")
    assert await therapist.closed() == 4009
    welcome = await therapist2.wait_type("welcome")
    assert welcome["role"] == "therapist" and welcome["admitted"] is True
    await therapist2.send({"type": "chat", "text": "still here", "id": "x"})
    assert (await client.wait_type("chat", id="x"))["text"] == "still here"
    # Still the host: the client is admitted, the therapist may end.
    await therapist2.send({"type": "end"})
    assert await client.closed() == 4000

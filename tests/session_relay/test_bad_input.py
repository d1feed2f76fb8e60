"""Bad input at the room: each refused with a clear close code or error frame, and the room
stays usable for its two rightful participants."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from rapport_session_relay import domain
from websockets.exceptions import InvalidStatus

from tests.session_relay.helpers import (
    TOKEN_SECRET,
    admitted_pair,
    book_session,
    join,
    open_socket,
)


def _claims(token: str, appointment_id: str) -> domain.JoinClaims:
    now = datetime.now(UTC)
    return domain.read_token(TOKEN_SECRET, token, appointment_id, now)


async def _refused(settings, appointment_id: str, first) -> int | None:
    peer = await open_socket(settings, appointment_id)
    await peer.send(first)
    return await peer.closed()


@pytest.fixture(scope="module")
async def booked(rpractice, rhttp):
    return await book_session(rpractice, rhttp)


async def test_hello_must_come_first_with_a_valid_token(relay, booked):
    s, apt = relay.settings, booked.appointment_id
    token = booked.tokens["client"]["token"]
    assert await _refused(s, apt, {"type": "chat", "text": "hi"}) == 4401
    assert await _refused(s, apt, "not json at all") == 4401
    assert await _refused(s, apt, b"\x00\x01binary hello") == 4401
    assert await _refused(s, apt, {"type": "hello"}) == 4401
    assert await _refused(s, apt, {"type": "hello", "token": "garbage.token.here"}) == 4401
    assert await _refused(s, apt, {"type": "hello", "token": token[:-4] + "AAAA"}) == 4401
    assert await _refused(s, apt, {"type": "hello", "token": 12345}) == 4401
    # Signed with another key (a token from some other deployment).
    claims = _claims(token, apt)
    forged = domain.issue_token("x" * 40, claims)
    assert await _refused(s, apt, {"type": "hello", "token": forged}) == 4401
    # Expired: the session it was for is over.
    past = dataclasses.replace(
        claims,
        opens_at=claims.opens_at - timedelta(days=2),
        closes_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    expired = domain.issue_token(TOKEN_SECRET, past)
    assert await _refused(s, apt, {"type": "hello", "token": expired}) == 4401
    # Not open yet.
    future = dataclasses.replace(claims, opens_at=datetime.now(UTC) + timedelta(hours=1))
    early = domain.issue_token(TOKEN_SECRET, future)
    assert await _refused(s, apt, {"type": "hello", "token": early}) == 4425


async def test_other_sessions_and_third_identities_are_refused(relay, booked, rpractice, rhttp):
    s, apt = relay.settings, booked.appointment_id
    therapist, client = await admitted_pair(s, s, booked)
    other = await book_session(rpractice, rhttp, minutes=30)
    # A valid token of another appointment.
    assert (
        await _refused(s, apt, {"type": "hello", "token": other.tokens["client"]["token"]}) == 4403
    )
    # A third identity holding a (leaked-key) token for this room in the client's role.
    claims = _claims(booked.tokens["client"]["token"], apt)
    intruder = domain.issue_token(TOKEN_SECRET, dataclasses.replace(claims, user_id="someone-else"))
    assert await _refused(s, apt, {"type": "hello", "token": intruder}) == 4403
    # The two rightful participants are undisturbed.
    await client.send({"type": "chat", "text": "are we still fine?", "id": "ok1"})
    assert (await therapist.wait_type("chat", id="ok1"))["text"] == "are we still fine?"
    await therapist.close()
    await client.close()


async def test_malformed_frames_get_error_frames(relay, booked):
    s = relay.settings
    therapist, client = await admitted_pair(s, s, booked)
    for bad, code in (
        ("{not json", 4400),
        (json.dumps([1, 2]), 4400),
        (json.dumps({"type": "launch-missiles"}), 4400),
        (json.dumps({"type": "chat"}), 4400),
        (json.dumps({"type": "chat", "text": "x" * (s.max_chat_chars + 1)}), 4413),
        (json.dumps({"type": "signal", "data": "not an object"}), 4400),
        (json.dumps({"type": "admit"}), 4403),
        (json.dumps({"type": "end"}), 4403),
    ):
        before = len([f for f in client.frames if f.get("type") == "error"])
        await client.send(bad)
        err = await client.wait_for(
            lambda f, n=before: (
                f.get("type") == "error"
                and len([g for g in client.frames if g.get("type") == "error"]) > n
            )
        )
        errors = [f for f in client.frames if f.get("type") == "error"]
        assert errors[-1]["code"] == code, (bad[:40], errors[-1])
        assert err["message"]
    await client.send({"type": "chat", "text": "still here", "id": "ok2"})
    assert (await therapist.wait_type("chat", id="ok2"))["text"] == "still here"
    await therapist.close()
    await client.close()


async def test_abuse_closes_the_socket_and_a_reconnect_carries_on(relay, booked):
    s = relay.settings
    therapist, client = await admitted_pair(s, s, booked)
    await client.send(b"\x00" * 10)
    assert await client.closed() == 1008
    client = await join(s, booked, "client")
    await client.send(
        json.dumps({"type": "chat", "text": "y" * 10, "pad": "z" * s.max_frame_bytes})
    )
    assert await client.closed() == 1009
    client = await join(s, booked, "client")
    for _ in range(s.rate_burst + 50):
        await client.send({"type": "typing", "active": True})
    assert await client.closed() == 1008
    # Reconnected, still admitted: the session carries on.
    client = await join(s, booked, "client")
    assert client.frames[0]["admitted"] is True
    await client.send({"type": "chat", "text": "back again", "id": "ok3"})
    assert (await therapist.wait_type("chat", id="ok3"))["text"] == "back again"
    await therapist.close()
    await client.close()


async def test_a_foreign_origin_is_refused_at_the_handshake(relay, booked):
    with pytest.raises(InvalidStatus) as refused:
        await open_socket(relay.settings, booked.appointment_id, origin="https://evil.example")
    assert refused.value.response.status_code == 403


async def test_bounds_per_process_and_a_silent_socket(stack, relay, rpractice, rhttp):
    """A process takes at most max_connections sockets and max_rooms rooms (1013 beyond: the
    page retries, elsewhere); a socket that never says hello is closed (4401)."""
    from rapport_session_relay.__main__ import create as create_relay

    from conftest import start_service
    from tests.session_relay.helpers import relay_settings

    small = relay_settings(
        stack, relay.settings.mongo_db, max_rooms=1, max_connections=2, hello_timeout_seconds=0.5
    )
    app = await start_service(create_relay(small))
    try:
        silent = await open_socket(small, "some-room")
        assert await silent.closed() == 4401
        booked = await book_session(rpractice, rhttp, minutes=30)
        therapist, client = await admitted_pair(small, small, booked)
        third = await open_socket(small, booked.appointment_id)  # same room, no socket left
        assert await third.closed() == 1013
        await client.close()

        async def one_left() -> None:
            while len(app.hub.conns) != 1:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(one_left(), 20)  # the server has let go of the client's socket
        other = await book_session(rpractice, rhttp, minutes=30)
        elsewhere = await open_socket(small, other.appointment_id)  # a second room: over max
        assert await elsewhere.closed() == 1013
        # The room in progress is untouched.
        client = await join(small, booked, "client")
        await client.send({"type": "chat", "text": "still fine", "id": "b1"})
        assert (await therapist.wait_type("chat", id="b1"))["text"] == "still fine"
        await therapist.close()
        await client.close()
    finally:
        await app.stop(0)

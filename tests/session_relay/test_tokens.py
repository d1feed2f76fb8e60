"""Join tokens through the gateway: only the appointment's two participants get one, bound to
the appointment, identity and role, valid from the lead time before the start to end + grace."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

import jwt

from tests.people import assert_problem
from tests.session_relay.helpers import TOKEN_SECRET, book_session


async def test_each_participant_gets_a_token_bound_to_them(relay, rpractice, rhttp):
    booked = await book_session(rpractice, rhttp)
    s = relay.settings
    for role, person in (("therapist", booked.therapist), ("client", booked.client)):
        body = booked.tokens[role]
        assert body["role"] == role and body["modality"] == "video"
        # The WebSocket URL carries no token; the room link carries it in the fragment only.
        assert (
            body["url"] == f"ws://127.0.0.1:{s.http_port}/v1/sessions/{booked.appointment_id}/live"
        )
        assert body["token"] not in body["url"]
        link = urlsplit(body["room_link"])
        assert link.path == f"/rooms/{booked.appointment_id}" and link.query == ""
        assert link.fragment == f"t={body['token']}"
        assert body["ice_servers"] == []  # no TURN locally
        opens = datetime.fromisoformat(body["opens_at"])
        closes = datetime.fromisoformat(body["closes_at"])
        assert opens == booked.start - timedelta(minutes=s.join_lead_minutes)
        assert closes == booked.end + timedelta(minutes=s.grace_minutes)
        assert datetime.fromisoformat(body["expires_at"]) == closes
        claims = jwt.decode(
            body["token"], TOKEN_SECRET, algorithms=["HS256"], audience="rapport-session"
        )
        assert claims["sub"] == person.user_id and claims["role"] == role
        assert claims["apt"] == booked.appointment_id
        assert claims["exp"] == int(closes.timestamp())


async def test_nobody_else_gets_one(relay, rpractice, rhttp):
    booked = await book_session(rpractice, rhttp)
    url = f"/v1/appointments/{booked.appointment_id}/session-token"
    stranger = await rpractice.client()
    # Scheduling refuses to show a stranger the appointment.
    assert_problem(await rhttp.post(url, headers=stranger.h), 403)
    other_therapist = await rpractice.therapist()
    assert_problem(await rhttp.post(url, headers=other_therapist.h), 403)
    # The clinic admin may see the appointment but is not in the session.
    assert_problem(await rhttp.post(url, headers=rpractice.admin.h), 403)
    assert_problem(await rhttp.post(url), 401)
    assert_problem(await rhttp.post(url, headers={"Authorization": "Bearer nope"}), 401)
    assert_problem(
        await rhttp.post("/v1/appointments/no-such-one/session-token", headers=booked.client.h), 404
    )
    r = await rhttp.post("/v1/appointments/bad%20id!/session-token", headers=booked.client.h)
    assert r.status_code == 422


async def test_a_cancelled_appointment_has_no_session(relay, rpractice, rhttp):
    booked = await book_session(rpractice, rhttp)
    r = await rhttp.post(
        f"/v1/appointments/{booked.appointment_id}/cancel",
        headers=booked.therapist.h,
        json={"reason": "ill"},
    )
    assert r.status_code == 200, r.text
    r = await rhttp.post(
        f"/v1/appointments/{booked.appointment_id}/session-token", headers=booked.client.h
    )
    assert_problem(r, 409)


async def test_a_client_who_founded_a_clinic_still_joins_their_session(relay, rpractice, rhttp):
    """Issue 13, item 7: a role change does not strand the client's own sessions."""
    booked = await book_session(rpractice, rhttp)
    client = booked.client
    r = await rhttp.post(
        "/v1/clinics",
        headers=client.h,
        json={
            "name": "Founded Later",
            "currency": "USD",
            "timezone": "UTC",
            "commission_bps": 0,
            "cancellation_window_hours": 24,
            "late_cancellation_fee_minor": 0,
        },
    )
    assert r.status_code == 201, r.text
    await rpractice.login(client)  # the role change revoked the client token
    r = await rhttp.post(
        f"/v1/appointments/{booked.appointment_id}/session-token", headers=client.h
    )
    assert r.status_code == 200, r.text
    claims = jwt.decode(
        r.json()["token"], TOKEN_SECRET, algorithms=["HS256"], audience="rapport-session"
    )
    assert (claims["sub"], claims["role"]) == (client.user_id, "client")

"""The relay's pure rules: tokens, the session window, revocation, TURN credentials, frames,
the rate limiter and the room's state transitions (with injected times)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from rapport_session_relay import domain

SECRET = "k" * 40
T0 = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)


def claims(role: str = domain.CLIENT, **over) -> domain.JoinClaims:
    opens, closes = domain.session_window(
        T0, T0 + timedelta(minutes=50), timedelta(minutes=15), timedelta(minutes=10)
    )
    values = dict(
        appointment_id="apt-1",
        user_id="u-client" if role == domain.CLIENT else "u-therapist",
        role=role,
        therapist_id="u-therapist",
        client_id="u-client",
        modality="video",
        start=T0,
        end=T0 + timedelta(minutes=50),
        opens_at=opens,
        closes_at=closes,
        issued_at=T0 - timedelta(hours=1),
    )
    values.update(over)
    return domain.JoinClaims(**values)


def test_window_and_token_round_trip():
    c = claims()
    assert c.opens_at == T0 - timedelta(minutes=15)
    assert c.closes_at == T0 + timedelta(minutes=60)
    token = domain.issue_token(SECRET, c)
    back = domain.read_token(SECRET, token, "apt-1", T0)
    assert (back.user_id, back.role, back.appointment_id) == ("u-client", "client", "apt-1")
    assert back.closes_at == c.closes_at and back.issued_at == c.issued_at


@pytest.mark.parametrize(
    ("token", "apt", "now", "code"),
    [
        (None, "apt-1", T0, 4401),
        ("", "apt-1", T0, 4401),
        ("x" * 5000, "apt-1", T0, 4401),
        ("not.a.jwt", "apt-1", T0, 4401),
        ("GOOD", "apt-2", T0, 4403),
        ("GOOD", "apt-1", T0 + timedelta(minutes=60), 4401),  # closed exactly at the end
        ("GOOD", "apt-1", T0 - timedelta(minutes=16), 4425),  # not open yet
        ("OTHER_KEY", "apt-1", T0, 4401),
    ],
)
def test_bad_tokens(token, apt, now, code):
    if token == "GOOD":
        token = domain.issue_token(SECRET, claims())
    elif token == "OTHER_KEY":
        token = domain.issue_token("z" * 40, claims())
    with pytest.raises(domain.RelayError) as refused:
        domain.read_token(SECRET, token, apt, now)
    assert refused.value.code == code


def test_revocation():
    c = claims(issued_at=T0 - timedelta(minutes=5))
    assert domain.Revocation("apt-1", True, T0 - timedelta(days=1)).revokes(c)  # cancelled: all
    assert domain.Revocation("apt-1", False, T0).revokes(c)  # moved after it was issued
    assert not domain.Revocation("apt-1", False, T0 - timedelta(minutes=6)).revokes(c)


def test_turn_rest_credentials():
    expiry = T0 + timedelta(hours=1)
    username, password = domain.turn_credentials("s3cret", "u-1", expiry)
    assert username == f"{int(expiry.timestamp())}:u-1"
    # What coturn checks with use-auth-secret: base64(HMAC-SHA1(secret, username)).
    digest = hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()
    assert base64.b64decode(password) == digest
    servers = domain.ice_servers(("stun:s:3478", "turn:t:3478"), "s3cret", "u-1", expiry)
    assert servers[0] == {"urls": ["stun:s:3478"]}
    assert servers[1]["urls"] == ["turn:t:3478"] and servers[1]["username"] == username
    assert domain.ice_servers((), "", "u-1", expiry) == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("nope", 4400),
        ("[]", 4400),
        ('{"type": 3}', 4400),
        ('{"type": "hello"}', 4400),
        ('{"type": "chat"}', 4400),
        ('{"type": "chat", "text": "   "}', 4400),
        ('{"type": "chat", "text": "' + "a" * 11 + '"}', 4413),
        ('{"type": "signal", "data": []}', 4400),
        ("[" * 60_000, 4400),  # nested past the recursion limit: refused, not a crash
        ('{"type": "signal", "data": ' + "[" * 60_000, 4400),
    ],
)
def test_bad_frames(text, code):
    with pytest.raises(domain.RelayError) as refused:
        domain.parse_frame(text, max_chat_chars=10)
    assert refused.value.code == code


def test_good_frames_pass_signalling_untouched():
    data = {"description": {"type": "offer", "sdp": "v=0"}, "x": [1, None]}
    assert domain.parse_frame(
        '{"type":"chat","text":"hi","id":"m1","evil":1}', max_chat_chars=10
    ) == {"type": "chat", "text": "hi", "id": "m1"}
    import json

    assert domain.parse_frame(json.dumps({"type": "signal", "data": data}), max_chat_chars=1) == {
        "type": "signal",
        "data": data,
    }


def test_rate_limiter():
    bucket = domain.RateLimiter(rate=2, burst=3, now=0.0)
    assert [bucket.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.allow(0.5) and not bucket.allow(0.5)  # one more token after half a second
    assert bucket.allow(10.0)


def test_room_lifecycle_and_seconds():
    t, c = claims(domain.THERAPIST), claims()
    room = domain.Room.open(c)
    ch = domain.connect(room, t, "t1", T0)
    ch = domain.connect(ch.room, c, "c1", T0 + timedelta(seconds=10))
    assert ch.room.presence()["client"] == "waiting" and not ch.started
    with pytest.raises(domain.RelayError):
        domain.admit(ch.room, domain.CLIENT, T0)
    ch = domain.admit(ch.room, domain.THERAPIST, T0 + timedelta(seconds=20))
    assert ch.started and ch.room.started_at == T0 + timedelta(seconds=20)
    # A blip: the client's new socket replaces the old one; still admitted.
    ch = domain.connect(ch.room, c, "c2", T0 + timedelta(seconds=30))
    assert ch.replaced_conn == "c1" and not ch.started and ch.room.admitted
    assert domain.disconnect(ch.room, "c1", T0 + timedelta(seconds=31)) is None  # stale socket
    ch = domain.disconnect(ch.room, "c2", T0 + timedelta(seconds=80))
    assert ch is not None and ch.room.presence()["client"] == "absent"
    ch = domain.connect(ch.room, c, "c3", T0 + timedelta(seconds=100))
    ch = domain.end(ch.room, domain.ENDED_BY_THERAPIST, T0 + timedelta(seconds=120))
    room = ch.room
    assert ch.ended and room.ended_by == "therapist" and room.client_joined
    # Both present and admitted: 20 s -> 80 s and 100 s -> 120 s.
    assert room.both_seconds == 80
    assert domain.seconds_of(room, domain.THERAPIST) == 120
    assert domain.seconds_of(room, domain.CLIENT) == 90  # 10 -> 80 and 100 -> 120
    assert not domain.end(room, domain.ENDED_TIME_UP, T0 + timedelta(hours=1)).ended  # once
    with pytest.raises(domain.RelayError) as closed:
        domain.connect(room, c, "c4", T0 + timedelta(seconds=130))
    assert closed.value.code == domain.ENDED_BY_HOST


def test_exactly_two_identities():
    room = domain.Room.open(claims())
    intruder = dataclasses.replace(claims(), user_id="someone-else")
    with pytest.raises(domain.RelayError) as refused:
        domain.connect(room, intruder, "x", T0)
    assert refused.value.code == domain.FORBIDDEN
    wrong_role = claims(domain.THERAPIST, user_id="u-client")
    with pytest.raises(domain.RelayError):
        domain.connect(room, wrong_role, "y", T0)

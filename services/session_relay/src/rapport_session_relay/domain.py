"""The session relay's pure rules: join tokens, TURN credentials, frames, rate limits and the
state of a live room. No I/O; every function that needs the time takes `now`."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

THERAPIST = "therapist"
CLIENT = "client"
ROLES = (THERAPIST, CLIENT)
AUDIENCE = "rapport-session"
ISSUER = "rapport-session-relay"

# WebSocket close codes (4000-4999 are the application's; 1008/1009/1013 are standard).
POLICY = 1008  # a flood of frames, a binary frame, a foreign Origin
TOO_BIG = 1009
TRY_LATER = 1013  # this process is at its bound of rooms or connections
GOING_AWAY = 1012  # the relay restarts: reconnect
ENDED_BY_HOST = 4000
TIME_UP = 4001
REVOKED = 4002
REPLACED = 4009
UNAUTHENTICATED = 4401
FORBIDDEN = 4403
NOT_OPEN_YET = 4425
FINAL_CODES = frozenset({ENDED_BY_HOST, TIME_UP, REVOKED, UNAUTHENTICATED, FORBIDDEN})

ENDED_BY_THERAPIST = "therapist"
ENDED_TIME_UP = "time_up"
ENDED_REVOKED = "revoked"


class RelayError(Exception):
    """A refusal with the WebSocket close code (or error frame code) that says why."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


# --- join tokens --------------------------------------------------------------------------


@dataclass(frozen=True)
class JoinClaims:
    appointment_id: str
    user_id: str
    role: str
    therapist_id: str
    client_id: str
    modality: str
    start: datetime
    end: datetime
    opens_at: datetime
    closes_at: datetime
    issued_at: datetime
    token_id: str = ""


def session_window(
    start: datetime, end: datetime, lead: timedelta, grace: timedelta
) -> tuple[datetime, datetime]:
    """When the room opens (a lead time before the start) and closes (end plus grace)."""
    return start - lead, end + grace


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _from_ms(value: Any) -> datetime:
    if not isinstance(value, int):
        raise RelayError(UNAUTHENTICATED, "join token is invalid")
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def issue_token(secret: str, claims: JoinClaims) -> str:
    """An HS256 JWT: short-lived (it expires when the room closes), bound to one appointment,
    one identity and one role."""
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": claims.user_id,
        "jti": claims.token_id or uuid.uuid4().hex,
        "apt": claims.appointment_id,
        "role": claims.role,
        "thr": claims.therapist_id,
        "cli": claims.client_id,
        "mod": claims.modality,
        "start": _ms(claims.start),
        "end": _ms(claims.end),
        "nbf": int(claims.opens_at.timestamp()),
        "exp": int(claims.closes_at.timestamp()),
        "iat_ms": _ms(claims.issued_at),
    }
    return jwt.encode(payload, secret, algorithm="HS256")


def read_token(secret: str, token: object, appointment_id: str, now: datetime) -> JoinClaims:
    """The claims of a join token for this appointment, valid now; RelayError otherwise."""
    if not isinstance(token, str) or not token or len(token) > 4096:
        raise RelayError(UNAUTHENTICATED, "a join token is required")
    try:
        raw = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"verify_exp": False, "verify_nbf": False, "require": ["exp", "nbf", "sub"]},
        )
    except jwt.InvalidTokenError:
        raise RelayError(UNAUTHENTICATED, "join token is invalid") from None
    try:
        claims = JoinClaims(
            appointment_id=str(raw["apt"]),
            user_id=str(raw["sub"]),
            role=str(raw["role"]),
            therapist_id=str(raw["thr"]),
            client_id=str(raw["cli"]),
            modality=str(raw["mod"]),
            start=_from_ms(raw["start"]),
            end=_from_ms(raw["end"]),
            opens_at=datetime.fromtimestamp(int(raw["nbf"]), tz=UTC),
            closes_at=datetime.fromtimestamp(int(raw["exp"]), tz=UTC),
            issued_at=_from_ms(raw["iat_ms"]),
            token_id=str(raw["jti"]),
        )
    except (KeyError, TypeError, ValueError):
        raise RelayError(UNAUTHENTICATED, "join token is invalid") from None
    if claims.role not in ROLES:
        raise RelayError(UNAUTHENTICATED, "join token is invalid")
    if claims.appointment_id != appointment_id:
        raise RelayError(FORBIDDEN, "this token is for another session")
    if now >= claims.closes_at:
        raise RelayError(UNAUTHENTICATED, "join token expired: the session is over")
    if now < claims.opens_at:
        raise RelayError(NOT_OPEN_YET, "the room is not open yet")
    return claims


@dataclass(frozen=True)
class Revocation:
    """Scheduling cancelled (every token) or rescheduled (tokens issued before) a session."""

    appointment_id: str
    cancelled: bool
    revoked_at: datetime

    def revokes(self, claims: JoinClaims) -> bool:
        return self.cancelled or claims.issued_at < self.revoked_at


# --- TURN REST credentials ----------------------------------------------------------------


def turn_credentials(secret: str, participant: str, expires_at: datetime) -> tuple[str, str]:
    """The TURN REST API scheme (coturn's use-auth-secret): username `expiry:participant`,
    password base64(HMAC-SHA1(secret, username)); valid until `expiry` (Unix seconds)."""
    username = f"{int(expires_at.timestamp())}:{participant}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(
    urls: tuple[str, ...], secret: str, participant: str, expires_at: datetime
) -> list[dict[str, Any]]:
    """RTCPeerConnection's iceServers: STUN as is, TURN with credentials that expire with the
    session. Empty when none is configured (loopback host candidates suffice locally)."""
    stun = [u for u in urls if u.startswith("stun")]
    turn = [u for u in urls if not u.startswith("stun")]
    servers: list[dict[str, Any]] = [{"urls": stun}] if stun else []
    if turn:
        username, credential = turn_credentials(secret, participant, expires_at)
        servers.append({"urls": turn, "username": username, "credential": credential})
    return servers


# --- frames -------------------------------------------------------------------------------

CLIENT_FRAMES = frozenset({"chat", "typing", "signal", "admit", "end", "ping"})


def parse_frame(text: str, *, max_chat_chars: int) -> dict[str, Any]:
    """A frame from a participant, validated; RelayError (sent back as an error frame)."""
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: "[[[[...": one level per bracket
        raise RelayError(4400, "frames are JSON objects") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise RelayError(4400, "frames are JSON objects with a type")
    kind = frame["type"]
    if kind not in CLIENT_FRAMES:
        raise RelayError(4400, "unknown frame type")
    if kind == "chat":
        body = frame.get("text")
        if not isinstance(body, str) or not body.strip():
            raise RelayError(4400, "chat needs text")
        if len(body) > max_chat_chars:
            raise RelayError(4413, f"chat text is limited to {max_chat_chars} characters")
        out: dict[str, Any] = {"type": "chat", "text": body}
        if isinstance(frame.get("id"), str) and len(frame["id"]) <= 64:
            out["id"] = frame["id"]
        return out
    if kind == "typing":
        return {"type": "typing", "active": bool(frame.get("active", True))}
    if kind == "signal":
        data = frame.get("data")
        if not isinstance(data, dict):
            raise RelayError(4400, "signal needs a data object")
        return {"type": "signal", "data": data}  # passed through untouched
    return {"type": kind}


class RateLimiter:
    """A token bucket per connection: `rate` frames a second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.at = now

    def allow(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


# --- the live room ------------------------------------------------------------------------


@dataclass
class Member:
    user_id: str
    conn_id: str = ""
    present: bool = False
    since: datetime | None = None
    seconds: float = 0.0


@dataclass
class Room:
    appointment_id: str
    session_id: str
    modality: str
    therapist_id: str
    client_id: str
    closes_at: datetime
    members: dict[str, Member] = field(default_factory=dict)
    admitted: bool = False
    client_joined: bool = False
    started_at: datetime | None = None
    both_since: datetime | None = None
    both_seconds: float = 0.0
    ended_at: datetime | None = None
    ended_by: str = ""

    @classmethod
    def open(cls, claims: JoinClaims) -> Room:
        return cls(
            appointment_id=claims.appointment_id,
            session_id=uuid.uuid4().hex,
            modality=claims.modality,
            therapist_id=claims.therapist_id,
            client_id=claims.client_id,
            closes_at=claims.closes_at,
        )

    def present(self, role: str) -> bool:
        m = self.members.get(role)
        return m is not None and m.present

    def live(self) -> bool:
        """Both present and the client admitted: the session is running."""
        return self.admitted and self.present(THERAPIST) and self.present(CLIENT)

    def presence(self) -> dict[str, Any]:
        client = "absent"
        if self.present(CLIENT):
            client = "present" if self.admitted else "waiting"
        return {
            "type": "presence",
            "therapist": "present" if self.present(THERAPIST) else "absent",
            "client": client,
            "admitted": self.admitted,
        }


@dataclass(frozen=True)
class Change:
    room: Room
    replaced_conn: str = ""  # an older connection of the same participant to close
    started: bool = False  # session_started happens now
    ended: bool = False  # session_ended happens now


def _settle(room: Room, now: datetime) -> None:
    """Close the open 'both present' interval if the session is no longer live."""
    if room.both_since is not None and not room.live():
        room.both_seconds += max(0.0, (now - room.both_since).total_seconds())
        room.both_since = None


def _maybe_start(room: Room, now: datetime) -> bool:
    if room.live() and room.both_since is None:
        room.both_since = now
        if room.started_at is None:
            room.started_at = now
            return True
    return False


def connect(room: Room, claims: JoinClaims, conn_id: str, now: datetime) -> Change:
    """A participant's connection joins. Exactly two identities: the booked therapist and the
    booked client, each in their role; a reconnect replaces the old connection, keeps the role."""
    room = dataclasses.replace(room, members=dict(room.members))
    if room.ended_at is not None:
        raise RelayError(
            ENDED_BY_HOST if room.ended_by == ENDED_BY_THERAPIST else TIME_UP,
            "this session has ended",
        )
    expected = room.therapist_id if claims.role == THERAPIST else room.client_id
    if claims.user_id != expected:
        raise RelayError(FORBIDDEN, "this room is for two other people")
    old = room.members.get(claims.role)
    member = dataclasses.replace(old) if old else Member(user_id=claims.user_id)
    replaced = old.conn_id if old and old.present else ""
    if not member.present:
        member.since = now
    member.present = True
    member.conn_id = conn_id
    room.members[claims.role] = member
    if claims.role == CLIENT:
        room.client_joined = True
    started = _maybe_start(room, now)
    return Change(room, replaced_conn=replaced, started=started)


def disconnect(room: Room, conn_id: str, now: datetime) -> Change | None:
    """A connection went away; None when it had already been replaced (nothing changes)."""
    if room.ended_at is not None:
        return None
    for role, m in room.members.items():
        if m.conn_id == conn_id and m.present:
            room = dataclasses.replace(room, members=dict(room.members))
            member = dataclasses.replace(m, present=False, conn_id="")
            if m.since is not None:
                member.seconds += max(0.0, (now - m.since).total_seconds())
            member.since = None
            room.members[role] = member
            _settle(room, now)
            return Change(room)
    return None


def admit(room: Room, role: str, now: datetime) -> Change:
    if role != THERAPIST:
        raise RelayError(4403, "only the therapist admits")
    if room.ended_at is not None:
        raise RelayError(4409, "this session has ended")
    room = dataclasses.replace(room, admitted=True)
    return Change(room, started=_maybe_start(room, now))


def end(room: Room, by: str, now: datetime) -> Change:
    """The therapist ends it, time is up, or scheduling revoked it. Idempotent."""
    if room.ended_at is not None:
        return Change(room)
    room = dataclasses.replace(room, members=dict(room.members))
    for role, m in list(room.members.items()):
        if m.present and m.since is not None:
            room.members[role] = dataclasses.replace(
                m, seconds=m.seconds + max(0.0, (now - m.since).total_seconds()), since=now
            )
    if room.both_since is not None:
        room.both_seconds += max(0.0, (now - room.both_since).total_seconds())
        room.both_since = None
    room.ended_at = now
    room.ended_by = by
    return Change(room, ended=True)


def seconds_of(room: Room, role: str) -> int:
    m = room.members.get(role)
    return round(m.seconds) if m else 0

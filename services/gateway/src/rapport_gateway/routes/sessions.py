"""Join tokens for the live session of an appointment (session-relay service).

Paths:
  POST /v1/appointments/{appointment_id}/session-token   the appointment's client or therapist
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel
from rapport.sessions.v1 import sessions_pb2 as pb
from rapport.sessions.v1 import sessions_pb2_grpc

from rapport_gateway.deps import Token, auth, stub

DOWNSTREAM = "session_relay"
# The gateway stays ready without the relay: only session tokens answer 503 meanwhile.
REQUIRED = False
router = APIRouter(tags=["sessions"])

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class IceServer(BaseModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class SessionToken(BaseModel):
    token: str
    url: str
    room_link: str
    expires_at: datetime
    opens_at: datetime
    closes_at: datetime
    ice_servers: list[IceServer]
    role: str
    modality: str


def _time(value: Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=UTC)


@router.post("/v1/appointments/{appointment_id}/session-token", response_model=SessionToken)
async def session_token(appointment_id: Id, request: Request, token: Token) -> SessionToken:
    """A join token for the caller's live session: `url` is the WebSocket (the token goes in
    its first frame, never in a URL); `room_link` is the web room with the token in the
    fragment, which no server sees."""
    relay = stub(request, DOWNSTREAM, sessions_pb2_grpc.SessionRelayServiceStub)
    reply = await relay.IssueJoinToken(
        pb.IssueJoinTokenRequest(appointment_id=appointment_id), metadata=auth(token)
    )
    return SessionToken(
        token=reply.token,
        url=reply.url,
        room_link=reply.room_link,
        expires_at=_time(reply.expires_at),
        opens_at=_time(reply.opens_at),
        closes_at=_time(reply.closes_at),
        ice_servers=[
            IceServer(
                urls=list(s.urls), username=s.username or None, credential=s.credential or None
            )
            for s in reply.ice_servers
        ],
        role=reply.role,
        modality=reply.modality,
    )

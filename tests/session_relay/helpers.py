"""Helpers for the session relay's tests: relay settings, a booked appointment with both
participants' join tokens (through the gateway), and a small WebSocket participant."""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rapport_local import procs
from rapport_session_relay.settings import SessionRelaySettings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.people import Person
from tests.scheduling.helpers import Practice, on_grid

TOKEN_SECRET = secrets.token_urlsafe(32)
WAIT = 20.0  # bound of every wait for a condition (never a threshold)


def relay_settings(stack, db: str, **overrides: Any) -> SessionRelaySettings:
    values: dict[str, Any] = {
        "grpc_port": procs.free_port(),
        "http_port": procs.free_port(),
        "mongo_uri": stack.deps.mongo_uri,
        "mongo_db": db,
        "nats_url": stack.deps.nats_url_for("session-relay"),
        "identity_addr": stack.identity_addr,
        "scheduling_addr": stack.scheduling_addr,
        "drain_seconds": 0.2,
        "token_secret": TOKEN_SECRET,
        # Rooms open a day ahead in tests, so any appointment booked today can be joined now.
        "join_lead_minutes": 24 * 60,
        "sweep_seconds": 0.5,
    }
    values.update(overrides)
    if "public_url" not in values:
        values["public_url"] = f"http://127.0.0.1:{values['http_port']}"
    return SessionRelaySettings(**values)


class ShiftedClock:
    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Booked:
    appointment_id: str
    therapist: Person
    client: Person
    start: datetime
    end: datetime
    tokens: dict[str, dict]  # role -> the session-token response


_therapists: dict[int, tuple[Person, list[datetime]]] = {}


def claim_start(practice: Practice) -> datetime:
    """The next free hour of the practice's session therapist (within the day)."""
    taken = _therapists[id(practice)][1]
    start = on_grid(datetime.now(UTC) + timedelta(minutes=20), 60)
    while start in taken:
        start += timedelta(hours=1)
    taken.append(start)
    return start


async def book_session(
    practice: Practice, http: httpx.AsyncClient, *, modality: str = "video", minutes: int = 50
) -> Booked:
    """A fresh client and a confirmed appointment within the day with the practice's session
    therapist (one hour apart each); both join tokens."""
    if id(practice) not in _therapists:
        _therapists[id(practice)] = (await practice.therapist(), [])
    therapist, _ = _therapists[id(practice)]
    start = claim_start(practice)
    client = await practice.client()
    session_type = {30: "talk-30", 50: "talk-50", 90: "long-90"}[minutes]
    r = await practice.book(client, therapist, start, modality=modality, session_type=session_type)
    assert r.status_code == 201, r.text
    body = r.json()
    tokens = {}
    for who in (therapist, client):
        t = await http.post(
            f"/v1/appointments/{body['appointment_id']}/session-token", headers=who.h
        )
        assert t.status_code == 200, t.text
        tokens[who.role] = t.json()
    return Booked(
        body["appointment_id"],
        therapist,
        client,
        datetime.fromisoformat(body["start"]),
        datetime.fromisoformat(body["end"]),
        tokens,
    )


class Peer:
    """One participant's WebSocket: sends frames, collects what arrives in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict] = []
        self._reader = asyncio.create_task(self._read())
        self._cond = asyncio.Condition()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                async with self._cond:
                    self.frames.append(json.loads(raw))
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        async with self._cond:
            self._cond.notify_all()

    async def send(self, frame: dict | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))

    async def wait_for(self, predicate, timeout: float = WAIT) -> dict:
        async def find() -> dict:
            async with self._cond:
                while True:
                    for f in self.frames:
                        if predicate(f):
                            return f
                    if self._reader.done():
                        raise AssertionError(f"closed ({self.close_code}) before the frame came")
                    await self._cond.wait()

        return await asyncio.wait_for(find(), timeout)

    async def wait_type(self, kind: str, **fields: Any) -> dict:
        return await self.wait_for(
            lambda f: f.get("type") == kind and all(f.get(k) == v for k, v in fields.items())
        )

    async def closed(self, timeout: float = WAIT) -> int | None:
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait_for(asyncio.shield(self._reader), WAIT)


def ws_url(settings: SessionRelaySettings, appointment_id: str) -> str:
    return f"ws://127.0.0.1:{settings.http_port}/v1/sessions/{appointment_id}/live"


async def open_socket(
    settings: SessionRelaySettings, appointment_id: str, *, origin: str | None = None
) -> Peer:
    ws = await connect(
        ws_url(settings, appointment_id),
        origin=origin or settings.public_url,  # type: ignore[arg-type]
        max_size=None,
        open_timeout=WAIT,
    )
    return Peer(ws)


async def join(settings: SessionRelaySettings, booked: Booked, role: str) -> Peer:
    """Connect, hello with the role's token, wait for the welcome."""
    peer = await open_socket(settings, booked.appointment_id)
    await peer.send({"type": "hello", "token": booked.tokens[role]["token"]})
    await peer.wait_type("welcome")
    return peer


async def admitted_pair(settings_a, settings_b, booked: Booked) -> tuple[Peer, Peer]:
    """The therapist on relay A, the client on relay B, the client admitted (once per room)."""
    therapist = await join(settings_a, booked, "therapist")
    client = await join(settings_b, booked, "client")
    state = await therapist.wait_for(
        lambda f: f.get("type") == "presence" and f["client"] in ("waiting", "present")
    )
    if not state["admitted"]:
        await therapist.send({"type": "admit"})
        await client.wait_type("admit")
    await client.wait_for(
        lambda f: (
            f.get("type") == "presence" and f["client"] == "present" and f["therapist"] == "present"
        )
    )
    await therapist.wait_for(lambda f: f.get("type") == "presence" and f["client"] == "present")
    return therapist, client

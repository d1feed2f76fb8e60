"""Fan-out of a room across relay replicas over NATS core (no JetStream: nothing is stored).

Every replica holding a connection of a room subscribes to `rapport.relay.room.<id>`; frames,
presence changes and closes are published there and each replica delivers them to its own
sockets. Room membership and admission are decided in one database transaction (service.Rooms),
then broadcast, so every replica shows the same room. Frames are never logged or traced.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation
from rapport_platform.bus import Bus
from rapport_platform.telemetry import meter
from starlette.websockets import WebSocket, WebSocketState

from rapport_session_relay import domain

log = logging.getLogger(__name__)
SUBJECT = "rapport.relay.room.{}"
OUTGOING_QUEUE = 256

_meter = meter("rapport.sessions")
_hubs: list[Hub] = []


def _observe(_options: CallbackOptions) -> list[Observation]:
    return [Observation(sum(len(h.conns) for h in _hubs))]


# The HPA's metric (rapport_sessions_active in Prometheus): live sockets in this process.
_meter.create_observable_up_down_counter(
    "rapport.sessions.active", callbacks=[_observe], description="live session connections"
)


@dataclass(eq=False)
class Conn:
    id: str
    ws: WebSocket
    appointment_id: str
    role: str
    user_id: str
    outgoing: asyncio.Queue[tuple[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(OUTGOING_QUEUE)
    )
    writer: asyncio.Task[None] | None = None
    closing: bool = False

    def send(self, frame: dict[str, Any]) -> None:
        self._put(("frame", frame))

    def close(self, code: int, reason: str = "") -> None:
        if not self.closing:
            self.closing = True
            self._put(("close", (code, reason)))

    def _put(self, item: tuple[str, Any]) -> None:
        try:
            self.outgoing.put_nowait(item)
        except asyncio.QueueFull:  # a reader that does not keep up: drop it, it reconnects
            self.closing = True
            if self.writer is not None:
                self.writer.cancel()

    async def write_loop(self) -> None:
        try:
            while True:
                kind, value = await self.outgoing.get()
                if kind == "frame":
                    await self.ws.send_text(json.dumps(value))
                else:
                    code, reason = value
                    await self.ws.close(code, reason)
                    return
        except Exception:  # the socket is gone; the reader notices
            return
        finally:
            if self.ws.application_state != WebSocketState.DISCONNECTED:
                with contextlib.suppress(Exception):
                    await self.ws.close(domain.TRY_LATER)


class Hub:
    def __init__(self, bus: Bus, *, max_rooms: int, max_connections: int) -> None:
        self.bus = bus
        self.max_rooms = max_rooms
        self.max_connections = max_connections
        self.conns: dict[str, Conn] = {}
        self.rooms: dict[str, set[str]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self._subs: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        _hubs.append(self)

    def has_room_for(self, appointment_id: str) -> bool:
        if len(self.conns) >= self.max_connections:
            return False
        return appointment_id in self.rooms or len(self.rooms) < self.max_rooms

    async def add(self, conn: Conn) -> None:
        conn.writer = asyncio.create_task(conn.write_loop(), name="ws-writer")
        async with self._lock:
            self.conns[conn.id] = conn
            self.rooms.setdefault(conn.appointment_id, set()).add(conn.id)
            if conn.appointment_id not in self._subs:
                nc = self.bus.nc
                if nc is None or not nc.is_connected:
                    raise ConnectionError("nats is not connected")
                apt = conn.appointment_id

                async def deliver(msg: Any, apt: str = apt) -> None:
                    await self._deliver(apt, msg.data)

                self._subs[apt] = await nc.subscribe(SUBJECT.format(apt), cb=deliver)
                # The subscription is registered at the server before anything is published.
                await nc.flush(timeout=2)

    async def remove(self, conn: Conn) -> None:
        async with self._lock:
            if self.conns.pop(conn.id, None) is None:
                return
            local = self.rooms.get(conn.appointment_id, set())
            local.discard(conn.id)
            if not local:
                self.rooms.pop(conn.appointment_id, None)
                self.views.pop(conn.appointment_id, None)
                sub = self._subs.pop(conn.appointment_id, None)
                if sub is not None:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()

    async def publish(self, appointment_id: str, message: dict[str, Any]) -> None:
        nc = self.bus.nc
        if nc is None or nc.is_closed:
            raise ConnectionError("nats is not connected")
        # While NATS reconnects the client buffers publishes and sends them once back.
        await nc.publish(SUBJECT.format(appointment_id), json.dumps(message).encode())

    async def _deliver(self, appointment_id: str, data: bytes) -> None:
        try:
            message = json.loads(data)
        except (ValueError, RecursionError):
            return
        kind = message.get("kind")
        local = [self.conns[c] for c in self.rooms.get(appointment_id, ()) if c in self.conns]
        if kind == "frame":
            frame = message["frame"]
            if frame.get("type") == "presence":
                self.views[appointment_id] = frame
            sender = message.get("from_role")
            to = message.get("to_role")
            for conn in local:
                if (to is None or conn.role == to) and conn.role != sender:
                    conn.send(frame)
        elif kind == "close_conn":
            for conn in local:
                if conn.id == message["conn"]:
                    if message.get("frame"):
                        conn.send(message["frame"])
                    conn.close(int(message["code"]), str(message.get("reason", "")))
        elif kind == "close_room":
            for conn in local:
                if message.get("frame"):
                    conn.send(message["frame"])
                conn.close(int(message["code"]), str(message.get("reason", "")))

    def view(self, appointment_id: str) -> dict[str, Any]:
        return self.views.get(appointment_id, {})

    async def close_all(self, code: int, reason: str) -> None:
        """On shutdown: every socket is told to reconnect (to another replica)."""
        for conn in list(self.conns.values()):
            conn.close(code, reason)
        for conn in list(self.conns.values()):
            if conn.writer is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(conn.writer, 2)

"""The relay's HTTP edge: the live room WebSocket, the room page, health.

The WebSocket never sees a token in its URL: the first frame is {"type":"hello","token":...}.
Frames are relayed, never stored, logged or traced (this app is not instrumented for the
WebSocket path, and no frame content reaches a log line).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, WebSocket
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.websockets import WebSocketDisconnect

from rapport_session_relay import domain
from rapport_session_relay.hub import Conn, Hub
from rapport_session_relay.service import Rooms
from rapport_session_relay.settings import SessionRelaySettings
from rapport_session_relay.store import RelayStore

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
Id = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
ID_OK = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _headers(settings: SessionRelaySettings) -> dict[str, str]:
    ws = settings.ws_base
    return {
        # Only our own script, style and socket; no third party, no framing, no referrer.
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"media-src 'self' blob:; connect-src 'self' {ws}; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Permissions-Policy": "camera=(self), microphone=(self), display-capture=()",
    }


def create_web_app(
    settings: SessionRelaySettings,
    *,
    hub: Hub,
    rooms: Rooms,
    repo: RelayStore,
    clock: Callable[[], datetime],
    ready: Callable[[], bool],
) -> FastAPI:
    app = FastAPI(title="Rapport session relay", docs_url=None, redoc_url=None, openapi_url=None)
    secret = settings.token_secret.get_secret_value()
    page_headers = _headers(settings)
    # Under /rooms/ and /v1/sessions/: the only paths the Ingress sends to the relay.
    app.mount("/rooms/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    @app.get("/v1/sessions/ready")  # the room page's connection test, through the Ingress
    async def readyz() -> JSONResponse:
        ok = ready()
        return JSONResponse(
            {"status": "ready" if ok else "unavailable"}, status_code=200 if ok else 503
        )

    @app.get("/rooms/{appointment_id}")
    async def room_page(appointment_id: Id) -> FileResponse:
        return FileResponse(STATIC / "room.html", headers=page_headers, media_type="text/html")

    @app.websocket("/v1/sessions/{appointment_id}/live")
    async def live(ws: WebSocket, appointment_id: str) -> None:
        origin = (ws.headers.get("origin") or "").rstrip("/")
        if origin not in settings.origins:
            await ws.close(domain.POLICY)  # before accept: the handshake is refused (403)
            return
        await ws.accept()
        if not ID_OK.match(appointment_id):
            await ws.close(domain.FORBIDDEN, "no such session")
            return
        if not hub.has_room_for(appointment_id):
            await ws.close(domain.TRY_LATER, "relay at capacity, try again")
            return
        claims = await _hello(ws, appointment_id)
        if claims is None:
            return
        conn = Conn(uuid.uuid4().hex, ws, appointment_id, claims.role, claims.user_id)
        try:
            await hub.add(conn)
        except Exception as exc:
            log.warning("cannot join the room fan-out: %s", type(exc).__name__)
            await hub.remove(conn)
            await ws.close(domain.TRY_LATER, "relay unavailable, try again")
            return
        try:
            try:
                change = await rooms.join(claims, conn.id)
            except domain.RelayError as exc:
                conn.close(exc.code, exc.reason)
                await _drain(conn)
                return
            except Exception as exc:  # the database is down: the page retries
                log.warning("join failed: %s", type(exc).__name__)
                conn.close(domain.TRY_LATER, "relay unavailable, try again")
                await _drain(conn)
                return
            if change.replaced_conn:
                await hub.publish(
                    appointment_id,
                    {"kind": "close_conn", "conn": change.replaced_conn,
                     "code": domain.REPLACED, "reason": "replaced by a newer connection"},
                )  # fmt: skip
            conn.send(
                {
                    "type": "welcome",
                    "role": claims.role,
                    "modality": claims.modality,
                    "opens_at": claims.opens_at.isoformat(),
                    "closes_at": claims.closes_at.isoformat(),
                    "ice_servers": domain.ice_servers(
                        settings.turn_urls,
                        settings.turn_secret.get_secret_value(),
                        claims.user_id,
                        claims.closes_at,
                    ),
                    **{k: v for k, v in change.room.presence().items() if k != "type"},
                }
            )
            await _broadcast_presence(appointment_id, change.room)
            timer = asyncio.create_task(_time_up(appointment_id, claims.closes_at))
            try:
                await _read_loop(conn)
            finally:
                timer.cancel()
        finally:
            await hub.remove(conn)
            if conn.writer is not None and not conn.closing:
                conn.writer.cancel()
            with contextlib.suppress(Exception):
                left = await rooms.leave(appointment_id, conn.id)
                if left is not None:
                    await _broadcast_presence(appointment_id, left.room)

    async def _hello(ws: WebSocket, appointment_id: str) -> domain.JoinClaims | None:
        try:
            first = await asyncio.wait_for(ws.receive(), settings.hello_timeout_seconds)
        except TimeoutError:
            await ws.close(domain.UNAUTHENTICATED, "hello expected first")
            return None
        text = first.get("text")
        frame: Any = None
        if isinstance(text, str) and len(text) <= settings.max_frame_bytes:
            with contextlib.suppress(ValueError, RecursionError):
                frame = json.loads(text)
        if not isinstance(frame, dict) or frame.get("type") != "hello":
            if first.get("type") != "websocket.disconnect":
                await ws.close(domain.UNAUTHENTICATED, "hello expected first")
            return None
        try:
            return domain.read_token(secret, frame.get("token"), appointment_id, clock())
        except domain.RelayError as exc:
            await ws.close(exc.code, exc.reason)
            return None

    async def _read_loop(conn: Conn) -> None:
        limiter = domain.RateLimiter(
            settings.rate_per_second, settings.rate_burst, time.monotonic()
        )
        while not conn.closing:
            try:
                message = await conn.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                conn.close(domain.POLICY, "binary frames are not accepted")
                return
            if len(text.encode()) > settings.max_frame_bytes:
                conn.close(domain.TOO_BIG, "frame too large")
                return
            if not limiter.allow(time.monotonic()):
                conn.close(domain.POLICY, "too many frames")
                return
            try:
                frame = domain.parse_frame(text, max_chat_chars=settings.max_chat_chars)
                await _handle(conn, frame)
            except domain.RelayError as exc:
                conn.send({"type": "error", "code": exc.code, "message": exc.reason})
            except Exception as exc:  # a dependency is down: say so, keep the socket
                log.warning("frame not handled: %s", type(exc).__name__)
                conn.send({"type": "error", "code": 4503, "message": "try again in a moment"})

    async def _handle(conn: Conn, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        apt = conn.appointment_id
        if kind == "ping":
            conn.send({"type": "pong"})
            return
        if kind == "admit":
            change = await rooms.admit(apt, conn.role)
            await hub.publish(apt, {"kind": "frame", "to_role": domain.CLIENT,
                                    "frame": {"type": "admit"}})  # fmt: skip
            await _broadcast_presence(apt, change.room)
            return
        if kind == "end":
            if conn.role != domain.THERAPIST:
                raise domain.RelayError(4403, "only the therapist ends the session")
            await rooms.end(apt, domain.ENDED_BY_THERAPIST)
            await _close_room(apt, domain.ENDED_BY_HOST, domain.ENDED_BY_THERAPIST)
            return
        # chat, typing, signal: only between the two, once the client is admitted
        view = hub.view(apt)
        peer = domain.CLIENT if conn.role == domain.THERAPIST else domain.THERAPIST
        if not view.get("admitted") or view.get(peer) != "present":
            # This replica's view follows presence broadcasts, which can trail a (re)join: a
            # participant reconnecting after a relay restart was welcomed as present before
            # the broadcast came back here. Before refusing, ask the database, which decided
            # it (found by tests/reliability/test_relay_rolling_restart.py).
            room = await repo.get_room(apt)
            if room is not None:
                view = room.presence()
        if not view.get("admitted"):
            raise domain.RelayError(4403, "the therapist has not admitted the client yet")
        if view.get(peer) != "present":
            raise domain.RelayError(4404, "the other participant is not connected")
        if kind == "chat":
            frame = {**frame, "from": conn.role, "at": clock().isoformat()}
        else:
            frame = {**frame, "from": conn.role}
        await hub.publish(apt, {"kind": "frame", "from_role": conn.role, "frame": frame})

    async def _broadcast_presence(appointment_id: str, room: domain.Room) -> None:
        await hub.publish(appointment_id, {"kind": "frame", "frame": room.presence()})

    async def _close_room(appointment_id: str, code: int, by: str) -> None:
        await hub.publish(
            appointment_id,
            {"kind": "close_room", "code": code, "reason": f"session ended ({by})",
             "frame": {"type": "end", "by": by}},
        )  # fmt: skip

    async def _time_up(appointment_id: str, closes_at: datetime) -> None:
        # The clock is injectable (tests), so re-read it rather than sleeping once.
        left = (closes_at - clock()).total_seconds()
        while left > 0:
            await asyncio.sleep(min(left, 30.0))
            left = (closes_at - clock()).total_seconds()
        with contextlib.suppress(Exception):
            await rooms.end(appointment_id, domain.ENDED_TIME_UP)
        await _close_room(appointment_id, domain.TIME_UP, domain.ENDED_TIME_UP)

    async def _drain(conn: Conn) -> None:
        if conn.writer is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(conn.writer, 5)

    app.state.close_room = _close_room
    app.state.repo = repo
    return app

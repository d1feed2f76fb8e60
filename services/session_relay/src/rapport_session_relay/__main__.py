"""Wiring only: settings -> telemetry -> store -> bus -> gRPC server + HTTP/WebSocket -> run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime

import uvicorn
from rapport.scheduling.v1 import scheduling_pb2_grpc
from rapport.sessions.v1 import sessions_pb2, sessions_pb2_grpc
from rapport_platform.app import ServiceApp, run_service
from rapport_platform.auth import identity_verifier
from rapport_platform.bus import Bus, Consumer
from rapport_platform.outbox import Outbox
from rapport_platform.rpc import Servicer, client_channel
from rapport_platform.store import Store
from rapport_platform.timestamps import utc_now

from rapport_session_relay import domain, events
from rapport_session_relay.api import SessionRelayApi
from rapport_session_relay.hub import Hub
from rapport_session_relay.service import Rooms
from rapport_session_relay.settings import SessionRelaySettings
from rapport_session_relay.store import INDEXES, RelayStore
from rapport_session_relay.web import create_web_app

NAME = "session-relay"
log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn inside the service's loop: the gRPC server owns SIGTERM (drain), not uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class RelayApp(ServiceApp):
    """The platform's service lifecycle plus the HTTP/WebSocket edge."""

    hub: Hub
    http: _Server
    http_port: int = 0

    async def start(self) -> int:
        port = await super().start()
        self._http_task = asyncio.create_task(self.http.serve(), name="relay-http")
        while not self.http.started:
            if self._http_task.done():
                self._http_task.result()
            await asyncio.sleep(0.02)
        self.http_port = self.http.servers[0].sockets[0].getsockname()[1]
        return port

    async def stop(self, drain_seconds: float | None = None) -> None:
        if self.server is not None:
            await self.server.stop(drain_seconds)  # readyz 503 from now on, then drain
        # Every socket is told to reconnect (1012), to another replica during a rollout.
        await self.hub.close_all(domain.GOING_AWAY, "relay restarting")
        self.http.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self._http_task, 10)
        await super().stop(drain_seconds)


def create(settings: SessionRelaySettings, *, clock: Callable[[], datetime] = utc_now) -> RelayApp:
    """`clock` is injectable so tests can stand inside a session window without waiting."""
    # At DEBUG the WebSocket protocol logs every frame, chat text included: never here.
    for name in ("uvicorn.error", "websockets"):
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))
    store = Store(settings.mongo_uri, settings.mongo_db)
    bus = Bus(settings.nats_url, source=f"rapport/{NAME}")
    outbox = Outbox(store, bus, service=NAME)
    repo = RelayStore(store)
    rooms = Rooms(store, repo, outbox, clock)
    hub = Hub(bus, max_rooms=settings.max_rooms, max_connections=settings.max_connections)
    identity_channel = client_channel(settings.identity_addr)
    scheduling_channel = client_channel(
        settings.scheduling_addr, timeout_s=settings.scheduling_timeout_seconds
    )
    api = SessionRelayApi(
        settings=settings,
        verifier=identity_verifier(identity_channel),
        scheduling=scheduling_pb2_grpc.SchedulingServiceStub(scheduling_channel),
        clock=clock,
    )

    async def close_room(appointment_id: str, code: int, by: str) -> None:
        await web.state.close_room(appointment_id, code, by)

    async def revoke(event_id: str, rev: domain.Revocation, consumer: str) -> None:
        await rooms.revoke(event_id, rev, consumer)
        # Every replica holding a socket of this room closes it, started or not.
        await close_room(rev.appointment_id, domain.REVOKED, domain.ENDED_REVOKED)

    async def sweep(stop: asyncio.Event) -> None:
        """Rooms whose time is up and that no live socket closed (everyone had left)."""
        while not stop.is_set():
            try:
                for appointment_id in await repo.due_rooms(clock()):
                    await rooms.end(appointment_id, domain.ENDED_TIME_UP)
                    await close_room(appointment_id, domain.TIME_UP, domain.ENDED_TIME_UP)
            except Exception as exc:  # Mongo or NATS down: next round
                log.warning("room sweep failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.sweep_seconds)

    consumers = [
        Consumer(
            bus,
            durable=durable,
            subject=subject,
            handler=events.revocation_handler(
                lambda eid, rev, _c, d=durable: revoke(eid, rev, d), cancelled=cancelled
            ),
        )
        for durable, subject, cancelled in (
            (settings.consumer_prefix + events.CANCELLED_SUFFIX, events.CANCELLED, True),
            (settings.consumer_prefix + events.RESCHEDULED_SUFFIX, events.RESCHEDULED, False),
        )
    ]
    app = RelayApp(
        NAME,
        settings,
        store=store,
        bus=bus,
        outbox=outbox,
        indexes=INDEXES,
        loops=[sweep, *(c.run for c in consumers)],
        on_stop=[identity_channel.close, scheduling_channel.close],
    )
    grpc_server = app.serve(
        [
            Servicer(
                sessions_pb2_grpc.add_SessionRelayServiceServicer_to_server,
                api,
                sessions_pb2.DESCRIPTOR.services_by_name["SessionRelayService"].full_name,
            )
        ]
    )
    web = create_web_app(
        settings, hub=hub, rooms=rooms, repo=repo, clock=clock, ready=lambda: grpc_server.serving
    )
    app.hub = hub
    app.http = _Server(
        uvicorn.Config(
            web,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,  # paths carry appointment ids only, but keep the edge quiet
            lifespan="off",
            ws="websockets-sansio",
            ws_max_size=settings.max_frame_bytes * 2,
            proxy_headers=True,
        )
    )
    return app


def main() -> None:
    run_service(NAME, SessionRelaySettings, create)


if __name__ == "__main__":
    main()

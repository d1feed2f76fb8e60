"""ServiceApp: the lifecycle every gRPC service shares, so that services look alike.

start: connect the bus in the background, serve gRPC at once (NOT_SERVING), initialise the store
(indexes) as soon as Mongo answers, run background loops (outbox relay, consumers); readiness is
SERVING only while every dependency answers. stop: NOT_SERVING, drain, stop loops, close clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from pymongo import IndexModel

from rapport_platform.bus import Bus, Consumer
from rapport_platform.outbox import INDEXES as OUTBOX_INDEXES
from rapport_platform.outbox import Outbox
from rapport_platform.rpc import Check, GrpcServer, Servicer
from rapport_platform.settings import GrpcServiceSettings, load_settings
from rapport_platform.store import Store
from rapport_platform.telemetry import setup_telemetry

# How long a stop lets the background loops finish the round they are in.
STOP_GRACE_S = 3.0

log = logging.getLogger(__name__)
Loop = Callable[[asyncio.Event], Awaitable[None]]
SettingsT = TypeVar("SettingsT", bound=GrpcServiceSettings)


class ServiceApp:
    def __init__(
        self,
        name: str,
        settings: GrpcServiceSettings,
        *,
        store: Store,
        bus: Bus,
        outbox: Outbox | None = None,
        indexes: Mapping[str, Sequence[IndexModel]] | None = None,
        retired_indexes: Mapping[str, Sequence[str]] | None = None,
        checks: Mapping[str, Check] | None = None,
        loops: Sequence[Loop] = (),
        on_start: Sequence[Callable[[], Awaitable[None]]] = (),
        on_stop: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        self.name = name
        self.settings = settings
        self.store = store
        self.bus = bus
        self.outbox = outbox
        self._indexes = {**OUTBOX_INDEXES, **(indexes or {})}
        self._retired_indexes = dict(retired_indexes or {})
        self._extra_checks = dict(checks or {})
        self._loops = list(loops)
        self._on_start = list(on_start)
        self._on_stop = list(on_stop)
        self._initialised = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.server: GrpcServer | None = None

    @property
    def consumers(self) -> list[Consumer]:
        """Its durable consumers: what must catch up before all its effects are in."""
        return [
            c
            for c in (getattr(loop, "__self__", None) for loop in self._loops)
            if isinstance(c, Consumer)
        ]

    def serve(self, servicers: Sequence[Servicer]) -> GrpcServer:
        self.server = GrpcServer(
            host=self.settings.grpc_host,
            port=self.settings.grpc_port,
            servicers=servicers,
            checks={
                "store": self._check_store,
                "bus": self.bus.check,
                **self._extra_checks,
            },
            drain_seconds=self.settings.drain_seconds,
        )
        return self.server

    async def _check_store(self) -> None:
        await self.store.ping()
        if not self._initialised.is_set():
            raise ConnectionError("store not initialised yet")

    async def _initialise(self) -> None:
        """Indexes and start hooks (e.g. Vault login), retried until the dependencies answer."""
        delay = 0.2
        while True:
            try:
                await self.store.ensure_indexes(self._indexes, self._retired_indexes)
                for hook in self._on_start:
                    await hook()
                self._initialised.set()
                return
            except Exception as exc:  # Mongo not up yet: keep trying, stay NOT_SERVING
                log.warning("store initialisation pending: %s", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def start(self) -> int:
        if self.server is None:
            raise RuntimeError("call serve() with the servicers first")
        await self.bus.start()
        port = await self.server.start()
        self._tasks.append(asyncio.create_task(self._initialise(), name=f"{self.name}-init"))
        loops = list(self._loops)
        if self.outbox is not None:
            loops.insert(0, self.outbox.run)
        for loop in loops:
            self._tasks.append(
                asyncio.create_task(self._after_init(loop), name=f"{self.name}-loop")
            )
        log.info("%s listening on %s:%d", self.name, self.settings.grpc_host, port)
        return port

    async def _after_init(self, loop: Loop) -> None:
        """Run a background loop once the store is ready; restart it if it ever crashes, so a
        consumer or the relay never silently stops while health says SERVING."""
        await self._initialised.wait()
        while not self._stop.is_set():
            try:
                await loop(self._stop)
                return
            except Exception as exc:
                log.error("background loop crashed (%s); restarting", type(exc).__name__)
                await asyncio.sleep(1.0)

    async def stop(self, drain_seconds: float | None = None) -> None:
        if self.server is not None:
            await self.server.stop(drain_seconds)
        self._stop.set()
        if self.outbox is not None:  # the answered requests' events go out now, not after a lease
            await self.outbox.flush()
        # Every loop sees the stop and ends the round it is in (a relay's publish and its mark,
        # a consumer's message and its ack) rather than leave a leased record or an unacked
        # message to time out (seconds of delay for that event); bounded, then cancelled.
        if self._initialised.is_set() and self._tasks:
            await asyncio.wait(self._tasks, timeout=STOP_GRACE_S)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for hook in self._on_stop:
            await hook()
        await self.bus.close()
        await self.store.close()

    async def run(self) -> None:
        """Serve until SIGTERM/SIGINT, then drain and stop (what __main__ calls)."""
        await self.start()
        assert self.server is not None
        await self.server.run_until_signal()
        await self.stop(drain_seconds=0)


def run_service(
    name: str, settings_class: type[SettingsT], create: Callable[[SettingsT], ServiceApp]
) -> None:
    """What every service's `main()` does: settings (fail fast) → telemetry → serve until SIGTERM.
    The app is built inside the running loop, because grpc.aio binds to the loop it starts on."""
    settings = load_settings(settings_class)
    setup_telemetry(name, settings.log_level)

    async def serve() -> None:
        await create(settings).run()

    asyncio.run(serve())

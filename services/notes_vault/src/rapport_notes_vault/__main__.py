"""Wiring only: settings -> telemetry -> store -> bus -> Vault -> gRPC server -> run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from rapport.identity.v1 import identity_pb2_grpc
from rapport.notes.v1 import notes_pb2, notes_pb2_grpc
from rapport_platform.app import ServiceApp, run_service
from rapport_platform.auth import identity_verifier
from rapport_platform.bus import Bus, Consumer
from rapport_platform.outbox import Outbox
from rapport_platform.rpc import Servicer, client_channel
from rapport_platform.store import Store
from rapport_platform.vault import Vault

from rapport_notes_vault.api import NotesApi
from rapport_notes_vault.crypto import Envelope
from rapport_notes_vault.events import SCHEDULING_EVENTS, AppointmentProjection
from rapport_notes_vault.service import NotesVault, utc_now
from rapport_notes_vault.settings import NotesVaultSettings
from rapport_notes_vault.store import INDEXES

NAME = "notes-vault"
log = logging.getLogger(__name__)


def create(settings: NotesVaultSettings, *, clock: Callable[[], datetime] = utc_now) -> ServiceApp:
    """`clock` is injectable so tests reach the end of a retention period without waiting."""
    store = Store(settings.mongo_uri, settings.mongo_db)
    bus = Bus(settings.nats_url, source=f"rapport/{NAME}")
    outbox = Outbox(store, bus, service=NAME)
    vault = Vault(settings)
    identity_channel = client_channel(
        settings.identity_addr, timeout_s=settings.identity_timeout_seconds
    )
    verifier = identity_verifier(identity_channel)  # signatures and revoked token versions
    service = NotesVault(
        store=store,
        outbox=outbox,
        envelope=Envelope(vault, key_prefix=settings.key_prefix),
        settings=settings,
        clock=clock,
        identity=identity_pb2_grpc.IdentityServiceStub(identity_channel),
    )
    projection = Consumer(
        bus,
        durable=f"{settings.consumer_prefix}-appointments",
        subject=SCHEDULING_EVENTS,
        handler=AppointmentProjection(store),
    )

    async def jobs(stop: asyncio.Event) -> None:
        """Key rotation, rewrap and crypto-shredding, every interval."""
        while not stop.is_set():
            try:
                await service.run_jobs()
            except Exception as exc:  # Vault or Mongo down: next round
                log.warning("key jobs round failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.jobs_interval_seconds)

    app = ServiceApp(
        NAME,
        settings,
        store=store,
        bus=bus,
        outbox=outbox,
        indexes=INDEXES,
        checks={"vault": vault.check},
        loops=[
            vault.keep_token_alive,
            *([projection.run, jobs] if settings.workers_enabled else []),
        ],
        on_start=[vault.login],
        on_stop=[identity_channel.close, vault.close],
    )
    app.serve(
        [
            Servicer(
                notes_pb2_grpc.add_NotesServiceServicer_to_server,
                NotesApi(service, verifier),
                notes_pb2.DESCRIPTOR.services_by_name["NotesService"].full_name,
            )
        ]
    )
    app.notes = service  # type: ignore[attr-defined]  # tests drive the jobs through it
    return app


def main() -> None:
    run_service(NAME, NotesVaultSettings, create)


if __name__ == "__main__":
    main()

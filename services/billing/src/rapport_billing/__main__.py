"""Wiring only: settings -> telemetry -> store -> bus -> gRPC server -> run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rapport.billing.v1 import billing_pb2, billing_pb2_grpc
from rapport_platform.app import ServiceApp, run_service
from rapport_platform.auth import identity_verifier
from rapport_platform.bus import Bus
from rapport_platform.outbox import Outbox
from rapport_platform.rpc import Servicer, client_channel
from rapport_platform.store import Store
from rapport_platform.timestamps import millisecond_clock, utc_now
from rapport_platform.vault import SecretBox, Vault

from rapport_billing.api import BillingApi
from rapport_billing.events import consumers
from rapport_billing.providers import make_provider
from rapport_billing.service import Billing, Identity
from rapport_billing.settings import BillingSettings
from rapport_billing.store import INDEXES

NAME = "billing"


def create(settings: BillingSettings, *, clock: Callable[[], datetime] = utc_now) -> ServiceApp:
    """`clock` is injectable so tests can let a hold lapse without waiting."""
    clock = millisecond_clock(clock)
    store = Store(settings.mongo_uri, settings.mongo_db)
    bus = Bus(settings.nats_url, source=f"rapport/{NAME}")
    outbox = Outbox(store, bus, service=NAME)
    identity_channel = client_channel(
        settings.identity_addr, timeout_s=settings.identity_timeout_seconds
    )
    verifier = identity_verifier(identity_channel)  # signatures and revoked token versions
    vault = Vault(settings)
    billing = Billing(
        store,
        outbox,
        make_provider(settings),
        settings,
        identity=Identity(
            identity_channel, settings.identity_timeout_seconds, settings.service_token_key
        ),
        clock=clock,
        diagnoses=SecretBox(vault, settings.diagnosis_key_name),
    )
    loops = [
        vault.keep_token_alive,
        *(
            [billing.run, *(c.run for c in consumers(bus, billing, settings))]
            if settings.workers_enabled
            else []
        ),
    ]
    app = ServiceApp(
        NAME,
        settings,
        store=store,
        bus=bus,
        outbox=outbox,
        indexes=INDEXES,
        loops=loops,
        # No Vault readiness check: only superbills need it (503 alone while it is down);
        # payments and webhooks keep working.
        on_start=[vault.login],
        on_stop=[identity_channel.close, vault.close],
    )
    app.billing = billing  # type: ignore[attr-defined]  # for tests: use cases without gRPC
    app.serve(
        [
            Servicer(
                billing_pb2_grpc.add_BillingServiceServicer_to_server,
                BillingApi(billing, verifier),
                billing_pb2.DESCRIPTOR.services_by_name["BillingService"].full_name,
            )
        ]
    )
    return app


def main() -> None:
    run_service(NAME, BillingSettings, create)


if __name__ == "__main__":
    main()

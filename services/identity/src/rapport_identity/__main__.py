"""Wiring only: settings -> telemetry -> store -> bus -> gRPC server -> run."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from rapport.identity.v1 import identity_pb2, identity_pb2_grpc
from rapport_platform.app import ServiceApp
from rapport_platform.auth import JwksCache, TokenVerifier
from rapport_platform.bus import Bus
from rapport_platform.outbox import Outbox
from rapport_platform.rpc import Servicer
from rapport_platform.settings import load_settings
from rapport_platform.store import Store
from rapport_platform.telemetry import setup_telemetry
from rapport_platform.vault import Vault

from rapport_identity.api import IdentityApi
from rapport_identity.keys import SigningKeys
from rapport_identity.settings import IdentitySettings
from rapport_identity.store import INDEXES

NAME = "identity"


def create(settings: IdentitySettings) -> ServiceApp:
    store = Store(settings.mongo_uri, settings.mongo_db)
    bus = Bus(settings.nats_url, source=f"rapport/{NAME}")
    outbox = Outbox(store, bus, service=NAME)
    vault = Vault(settings)
    ttl = timedelta(seconds=settings.access_token_ttl_seconds)
    keys = SigningKeys(vault, settings.jwt_key_name, ttl)
    # Identity verifies its own tokens against the same keys it publishes, without a network hop.
    verifier = TokenVerifier(JwksCache(lambda: keys.jwks(fresh=True), min_refresh_s=1.0))
    api = IdentityApi(store=store, outbox=outbox, keys=keys, verifier=verifier, token_ttl=ttl)
    app = ServiceApp(
        NAME,
        settings,
        store=store,
        bus=bus,
        outbox=outbox,
        indexes=INDEXES,
        checks={"vault": vault.check},
        on_start=[vault.login],
        loops=[vault.keep_token_alive],
    )
    app.serve(
        [
            Servicer(
                identity_pb2_grpc.add_IdentityServiceServicer_to_server,
                api,
                identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name,
            )
        ]
    )
    return app


async def serve(settings: IdentitySettings) -> None:
    await create(settings).run()  # built inside the loop: grpc.aio binds to the running loop


def main() -> None:
    settings = load_settings(IdentitySettings)
    setup_telemetry(NAME, settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()

"""Fixtures shared by every test: the real dependencies on free loopback ports, one per session.

nats-server (JetStream), OpenBao (dev, in memory, bootstrapped with the per-service policies)
and SecantusDB (in memory) are started as processes; nothing is mocked. Spans and metrics are
captured in memory for the whole test process.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rapport_local import nats_auth, procs, vault_bootstrap
from rapport_platform.telemetry import Capture, capture_in_memory

# The key of internal service tokens, as the local stack and the chart give it to the gateway and
# identity: every gateway and identity a test starts (settings read the environment) share it.
SERVICE_TOKEN_KEY = secrets.token_hex(32)
os.environ["RAPPORT_GATEWAY_SERVICE_TOKEN_KEY"] = SERVICE_TOKEN_KEY
os.environ["RAPPORT_IDENTITY_SERVICE_TOKEN_KEY"] = SERVICE_TOKEN_KEY
# Scheduling's own key: its consumers re-check facts with identity.
SCHEDULING_TOKEN_KEY = secrets.token_hex(32)
os.environ["RAPPORT_SCHEDULING_SERVICE_TOKEN_KEY"] = SCHEDULING_TOKEN_KEY
os.environ["RAPPORT_IDENTITY_SCHEDULING_TOKEN_KEY"] = SCHEDULING_TOKEN_KEY
# Billing's own key: it asks identity for a clinic's current commission.
BILLING_TOKEN_KEY = secrets.token_hex(32)
os.environ["RAPPORT_BILLING_SERVICE_TOKEN_KEY"] = BILLING_TOKEN_KEY
os.environ["RAPPORT_IDENTITY_BILLING_TOKEN_KEY"] = BILLING_TOKEN_KEY


@dataclass
class Deps:
    nats: procs.Proc
    mongo: procs.Proc
    vault: procs.Proc
    vault_tokens: dict[str, str]
    nats_passwords: dict[str, str]

    @property
    def nats_url(self) -> str:
        """The tests' own NATS user: it may publish anything (tests forge facts on purpose)."""
        return self.nats_url_for(nats_auth.TEST_USER)

    def nats_url_for(self, service: str) -> str:
        """A service's own NATS user, with its permissions (rapport_local.nats_auth)."""
        return nats_auth.url_for(self.nats.url, service, self.nats_passwords[service])

    @property
    def mongo_uri(self) -> str:
        return self.mongo.url

    @property
    def vault_addr(self) -> str:
        return self.vault.url


@pytest.fixture(scope="session")
def telemetry() -> Capture:
    return capture_in_memory()


@pytest.fixture(scope="session")
def deps(tmp_path_factory: pytest.TempPathFactory, telemetry: Capture) -> Iterator[Deps]:
    base: Path = tmp_path_factory.mktemp("deps")
    # Permissions on, as in the local stack and the chart: each service its own user.
    passwords = nats_auth.new_passwords(extra=(nats_auth.TEST_USER,))
    config = base / "nats.conf"
    config.write_text(nats_auth.server_config(passwords))
    nats = procs.start_nats(
        procs.free_port(), base / "nats", log_path=base / "nats.log", config=config
    )
    mongo = procs.start_secantus(procs.free_port(), ":memory:", log_path=base / "mongo.log")
    root = f"root-{uuid.uuid4()}"
    vault = procs.start_bao_dev(procs.free_port(), root, log_path=base / "bao.log")
    try:
        tokens = vault_bootstrap.bootstrap(vault.url, root)
        yield Deps(
            nats=nats, mongo=mongo, vault=vault, vault_tokens=tokens, nats_passwords=passwords
        )
    finally:
        for p in (vault, mongo, nats):
            p.stop()


def unique_db(prefix: str) -> str:
    """A database name per test, so tests sharing one server never see each other's records."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# --- services, started in this process on free ports, against the real dependencies ---------

import asyncio  # noqa: E402
import contextlib  # noqa: E402

import uvicorn  # noqa: E402
from rapport_billing.__main__ import create as create_billing  # noqa: E402
from rapport_billing.settings import BillingSettings  # noqa: E402
from rapport_gateway.app import create_app  # noqa: E402
from rapport_gateway.limits import server_limits  # noqa: E402
from rapport_gateway.settings import GatewaySettings  # noqa: E402
from rapport_identity.__main__ import create as create_identity  # noqa: E402
from rapport_identity.settings import IdentitySettings  # noqa: E402
from rapport_platform.app import ServiceApp  # noqa: E402
from rapport_scheduling.__main__ import create as create_scheduling  # noqa: E402
from rapport_scheduling.settings import SchedulingSettings  # noqa: E402

from tests.billing.stripe_double import (  # noqa: E402
    API_KEY,
    CONNECT_WEBHOOK_SECRET,
    WEBHOOK_SECRET,
    StripeDouble,
)
from tests.identity import operators  # noqa: E402


def identity_settings(deps: Deps, **overrides: object) -> IdentitySettings:
    values: dict[str, object] = {
        "grpc_port": procs.free_port(),
        "mongo_uri": deps.mongo_uri,
        "mongo_db": unique_db("identity"),
        "vault_addr": deps.vault_addr,
        "vault_token": deps.vault_tokens["identity"],
        "nats_url": deps.nats_url_for("identity"),
        "drain_seconds": 0.5,
        # Every test signs up through the gateway from 127.0.0.1: one address, hundreds of
        # accounts. Sign-up throttling has its own tests (tests/identity/test_throttling.py).
        "register_address_limit": 100_000,
    }
    values.update(overrides)
    return IdentitySettings(**values)  # type: ignore[arg-type]


def scheduling_settings(deps: Deps, identity_addr: str, **overrides: object) -> SchedulingSettings:
    values: dict[str, object] = {
        "grpc_port": procs.free_port(),
        "mongo_uri": deps.mongo_uri,
        "mongo_db": unique_db("scheduling"),
        "identity_addr": identity_addr,
        "nats_url": deps.nats_url_for("scheduling"),
        "drain_seconds": 0.5,
    }
    values.update(overrides)
    return SchedulingSettings(**values)  # type: ignore[arg-type]


def billing_settings(deps: Deps, identity_addr: str, **overrides: object) -> BillingSettings:
    """Billing with Stripe as its provider, pointed at a local HTTP double of Stripe's API."""
    values: dict[str, object] = {
        "grpc_port": procs.free_port(),
        "mongo_uri": deps.mongo_uri,
        "mongo_db": unique_db("billing"),
        "nats_url": deps.nats_url_for("billing"),
        "identity_addr": identity_addr,
        "vault_addr": deps.vault_addr,
        "vault_token": deps.vault_tokens["billing"],
        "drain_seconds": 0.5,
        "provider": "stripe",
        "stripe_api_key": API_KEY,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_connect_webhook_secret": CONNECT_WEBHOOK_SECRET,
        "stripe_connect_account": "acct_clinicdouble",
        "platform_fee_bps": 500,
        "worker_poll_seconds": 0.2,
        "action_backoff_seconds": (0.2, 0.5, 1.0),
        "park_backoff_seconds": (0.2, 0.5, 1.0),
        "park_max_deliver": 4,
    }
    values.update(overrides)
    return BillingSettings(**values)  # type: ignore[arg-type]


async def start_service(app: ServiceApp) -> ServiceApp:
    await app.start()
    assert app.server is not None
    await app.server.wait_ready()
    if isinstance(app.settings, IdentitySettings):
        # Operators are granted on identity's database (as its CLI does): tests find it here.
        operators.serving(f"127.0.0.1:{app.server.port}", app.settings)
    return app


class Gateway:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.http_port}"
        operators.routing(self.url, settings.identity_addr)
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="on",
            **server_limits(settings),
        )
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Gateway:
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self._task:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass
class Stack:
    deps: Deps
    identity: ServiceApp
    identity_addr: str
    gateway: Gateway
    scheduling: ServiceApp | None = None
    scheduling_addr: str = ""
    billing: ServiceApp | None = None
    billing_addr: str = ""
    stripe: StripeDouble | None = None

    @property
    def url(self) -> str:
        return self.gateway.url


@pytest.fixture(scope="session")
async def stack(deps: Deps):
    identity = await start_service(create_identity(identity_settings(deps)))
    addr = f"127.0.0.1:{identity.server.port}"  # type: ignore[union-attr]
    scheduling = await start_service(create_scheduling(scheduling_settings(deps, addr)))
    scheduling_addr = f"127.0.0.1:{scheduling.server.port}"  # type: ignore[union-attr]
    stripe = StripeDouble()
    await stripe.__aenter__()
    billing = await start_service(
        create_billing(billing_settings(deps, addr, stripe_api_base=stripe.url))
    )
    billing_addr = f"127.0.0.1:{billing.server.port}"  # type: ignore[union-attr]
    port = procs.free_port()
    settings = GatewaySettings(
        http_port=port,
        identity_addr=addr,
        scheduling_addr=scheduling_addr,
        billing_addr=billing_addr,
        public_url=f"http://127.0.0.1:{port}",
    )
    async with Gateway(settings) as gateway:
        yield Stack(
            deps=deps,
            identity=identity,
            identity_addr=addr,
            gateway=gateway,
            scheduling=scheduling,
            scheduling_addr=scheduling_addr,
            billing=billing,
            billing_addr=billing_addr,
            stripe=stripe,
        )
    await billing.stop(0)
    await stripe.__aexit__()
    await scheduling.stop(0)
    await identity.stop(0)

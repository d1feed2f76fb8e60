"""Fixtures shared by every test: the real dependencies on free loopback ports, one per session.

nats-server (JetStream), OpenBao (dev, in memory, bootstrapped with the per-service policies)
and SecantusDB (in memory) are started as processes; nothing is mocked. Spans and metrics are
captured in memory for the whole test process.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rapport_local import procs, vault_bootstrap
from rapport_platform.telemetry import Capture, capture_in_memory


@dataclass
class Deps:
    nats: procs.Proc
    mongo: procs.Proc
    vault: procs.Proc
    vault_tokens: dict[str, str]

    @property
    def nats_url(self) -> str:
        return self.nats.url

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
    nats = procs.start_nats(procs.free_port(), base / "nats", log_path=base / "nats.log")
    mongo = procs.start_secantus(procs.free_port(), ":memory:", log_path=base / "mongo.log")
    root = f"root-{uuid.uuid4()}"
    vault = procs.start_bao_dev(procs.free_port(), root, log_path=base / "bao.log")
    try:
        tokens = vault_bootstrap.bootstrap(vault.url, root)
        yield Deps(nats=nats, mongo=mongo, vault=vault, vault_tokens=tokens)
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
from rapport_gateway.app import create_app  # noqa: E402
from rapport_gateway.limits import server_limits  # noqa: E402
from rapport_gateway.settings import GatewaySettings  # noqa: E402
from rapport_identity.__main__ import create as create_identity  # noqa: E402
from rapport_identity.settings import IdentitySettings  # noqa: E402
from rapport_platform.app import ServiceApp  # noqa: E402
from rapport_scheduling.__main__ import create as create_scheduling  # noqa: E402
from rapport_scheduling.settings import SchedulingSettings  # noqa: E402

from tests.identity import operators  # noqa: E402


def identity_settings(deps: Deps, **overrides: object) -> IdentitySettings:
    values: dict[str, object] = {
        "grpc_port": procs.free_port(),
        "mongo_uri": deps.mongo_uri,
        "mongo_db": unique_db("identity"),
        "nats_url": deps.nats_url,
        "vault_addr": deps.vault_addr,
        "vault_token": deps.vault_tokens["identity"],
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
        "nats_url": deps.nats_url,
        "identity_addr": identity_addr,
        "drain_seconds": 0.5,
    }
    values.update(overrides)
    return SchedulingSettings(**values)  # type: ignore[arg-type]


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

    @property
    def url(self) -> str:
        return self.gateway.url


@pytest.fixture(scope="session")
async def stack(deps: Deps):
    identity = await start_service(create_identity(identity_settings(deps)))
    addr = f"127.0.0.1:{identity.server.port}"  # type: ignore[union-attr]
    scheduling = await start_service(create_scheduling(scheduling_settings(deps, addr)))
    scheduling_addr = f"127.0.0.1:{scheduling.server.port}"  # type: ignore[union-attr]
    port = procs.free_port()
    settings = GatewaySettings(
        http_port=port,
        identity_addr=addr,
        scheduling_addr=scheduling_addr,
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
        )
    await scheduling.stop(0)
    await identity.stop(0)

"""The reliability suite's own small platform, so that its faults hurt nobody else's tests.

Its own nats-server (JetStream on disk, so streams survive a kill) and its own SecantusDB (on
disk, so a restart keeps the data), with identity and billing in this process and scheduling as
a real OS process (a SIGKILL must be able to reach it). OpenBao is the session's (identity's
signing keys); the Vault scenario starts its own, which it may stop. A gateway in front.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pymongo import AsyncMongoClient
from rapport_billing.__main__ import create as create_billing
from rapport_gateway.settings import GatewaySettings
from rapport_identity.__main__ import create as create_identity
from rapport_local import nats_auth, procs
from rapport_local.stack import wait_grpc_serving
from rapport_platform.app import ServiceApp

from conftest import Gateway, billing_settings, identity_settings, start_service, unique_db
from tests.billing.helpers import Clinic
from tests.scheduling.helpers import on_grid


@dataclass
class RStack:
    base: Path
    nats: procs.Proc
    mongo: procs.Proc
    passwords: dict[str, str]
    identity: ServiceApp
    scheduling: procs.Proc
    scheduling_db: str
    billing: ServiceApp
    gateway: Gateway
    mongo_client: AsyncMongoClient
    _next_start: list[datetime] = field(default_factory=list)

    def nats_url_for(self, service: str) -> str:
        return nats_auth.url_for(self.nats.url, service, self.passwords[service])

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def identity_addr(self) -> str:
        return f"127.0.0.1:{self.identity.server.port}"  # type: ignore[union-attr]

    @property
    def scheduling_addr(self) -> str:
        return f"127.0.0.1:{self.scheduling.port}"

    @property
    def billing_addr(self) -> str:
        return f"127.0.0.1:{self.billing.server.port}"  # type: ignore[union-attr]

    @property
    def sched_db(self):
        return self.mongo_client[self.scheduling_db]

    @property
    def billing_db(self):
        return self.mongo_client[self.billing.settings.mongo_db]

    def next_start(self) -> datetime:
        """A fresh hour for the suite's therapist: scenarios never compete for a slot."""
        if not self._next_start:
            self._next_start.append(on_grid(datetime.now(UTC) + timedelta(days=2)))
        start = self._next_start[0]
        self._next_start[0] = start + timedelta(hours=1)
        return start


def scheduling_process(
    *, base: Path, port: int, mongo_uri: str, db: str, nats_url: str, identity_addr: str
) -> procs.Proc:
    """Scheduling as `python -m rapport_scheduling`, as `make up` runs it (rapport_local.stack).
    Its service-token key comes from the environment the root conftest set."""
    env = {
        **os.environ,
        "OTEL_SERVICE_NAME": "scheduling",
        "RAPPORT_SCHEDULING_GRPC_HOST": "127.0.0.1",
        "RAPPORT_SCHEDULING_GRPC_PORT": str(port),
        "RAPPORT_SCHEDULING_MONGO_URI": mongo_uri,
        "RAPPORT_SCHEDULING_MONGO_DB": db,
        "RAPPORT_SCHEDULING_NATS_URL": nats_url,
        "RAPPORT_SCHEDULING_IDENTITY_ADDR": identity_addr,
        "RAPPORT_SCHEDULING_DRAIN_SECONDS": "0.2",
    }
    return procs.Proc(
        "scheduling",
        [sys.executable, "-m", "rapport_scheduling"],
        port=port,
        url=f"127.0.0.1:{port}",
        env=env,
        log_path=base / "scheduling.log",
        ready=lambda p, t: wait_grpc_serving(p, port, t),
        ready_timeout=90,
    )


@pytest.fixture(scope="package")
async def rstack(deps, tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("reliability")
    passwords = nats_auth.new_passwords(extra=(nats_auth.TEST_USER,))
    config = base / "nats.conf"
    config.write_text(nats_auth.server_config(passwords))
    nats = procs.start_nats(
        procs.free_port(), base / "nats", log_path=base / "nats.log", config=config
    )
    mongo = procs.start_secantus(procs.free_port(), base / "mongo", log_path=base / "mongo.log")
    started: list = []
    try:

        def url_for(service: str) -> str:
            return nats_auth.url_for(nats.url, service, passwords[service])

        identity = await start_service(
            create_identity(
                identity_settings(deps, mongo_uri=mongo.url, nats_url=url_for("identity"))
            )
        )
        started.append(identity)
        identity_addr = f"127.0.0.1:{identity.server.port}"  # type: ignore[union-attr]
        sched_db = unique_db("scheduling")
        scheduling = scheduling_process(
            base=base,
            port=procs.free_port(),
            mongo_uri=mongo.url,
            db=sched_db,
            nats_url=url_for("scheduling"),
            identity_addr=identity_addr,
        )
        await asyncio.to_thread(scheduling.start)
        started.append(scheduling)
        # Billing keeps the books by hand here (no card processor): the ledger is what counts.
        billing = await start_service(
            create_billing(
                billing_settings(
                    deps,
                    identity_addr,
                    provider="manual",
                    mongo_uri=mongo.url,
                    nats_url=url_for("billing"),
                )
            )
        )
        started.append(billing)
        port = procs.free_port()
        settings = GatewaySettings(
            http_port=port,
            identity_addr=identity_addr,
            scheduling_addr=f"127.0.0.1:{scheduling.port}",
            billing_addr=f"127.0.0.1:{billing.server.port}",  # type: ignore[union-attr]
            public_url=f"http://127.0.0.1:{port}",
            rpc_timeout_seconds=10,
        )
        client = AsyncMongoClient(mongo.url, tz_aware=True)
        async with Gateway(settings) as gateway:
            yield RStack(
                base=base,
                nats=nats,
                mongo=mongo,
                passwords=passwords,
                identity=identity,
                scheduling=scheduling,
                scheduling_db=sched_db,
                billing=billing,
                gateway=gateway,
                mongo_client=client,
            )
        await client.close()
    finally:
        for item in reversed(started):
            if isinstance(item, procs.Proc):
                await asyncio.to_thread(item.stop)
            else:
                await asyncio.wait_for(item.stop(0), 60)
        mongo.stop()
        nats.stop()


@pytest.fixture(scope="package")
async def rhttp(rstack):
    async with httpx.AsyncClient(base_url=rstack.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="package")
async def rclinic(rstack, rhttp) -> Clinic:
    """One clinic for the suite; scenarios take fresh clients and fresh hours."""
    return await Clinic(rhttp, rstack).open()


@pytest.fixture(scope="package")
async def rtherapist(rclinic):
    return await rclinic.therapist()

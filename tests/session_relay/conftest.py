"""Fixtures for the session relay's tests: a relay in this process beside the shared stack, and
a gateway that routes session tokens to it."""

from __future__ import annotations

import httpx
import pytest
from rapport_gateway.settings import GatewaySettings
from rapport_local import procs
from rapport_session_relay.__main__ import create as create_relay

from conftest import Gateway, start_service, unique_db
from tests.scheduling.helpers import Practice
from tests.session_relay.helpers import relay_settings


@pytest.fixture(scope="session")
async def relay(stack):
    """One relay process-equivalent (its own database), started like a service."""
    settings = relay_settings(stack, unique_db("relay"))
    app = await start_service(create_relay(settings))
    yield app
    await app.stop(0)


@pytest.fixture(scope="session")
async def relay_gateway(stack, relay):
    settings = GatewaySettings(
        http_port=procs.free_port(),
        identity_addr=stack.identity_addr,
        scheduling_addr=stack.scheduling_addr,
        session_relay_addr=f"127.0.0.1:{relay.server.port}",
    )
    async with Gateway(settings) as gateway:
        yield gateway


@pytest.fixture(scope="session")
async def rhttp(relay_gateway):
    async with httpx.AsyncClient(base_url=relay_gateway.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def rpractice(rhttp) -> Practice:
    return await Practice(rhttp).open()

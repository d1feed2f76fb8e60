"""Fixtures for billing's whole-system tests: the stack (identity, scheduling, billing with a
Stripe HTTP double, gateway) from the root conftest, a clinic per test, and helpers."""

from __future__ import annotations

import httpx
import pytest
from pymongo import AsyncMongoClient
from rapport_platform.bus import Bus

from tests.billing.helpers import Clinic


@pytest.fixture(scope="session")
async def http_session(stack):
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        yield client


@pytest.fixture
def http(http_session) -> httpx.AsyncClient:
    return http_session


@pytest.fixture
async def clinic(http_session, stack) -> Clinic:
    return await Clinic(http_session, stack).open()


@pytest.fixture(scope="session")
async def billing_db(stack):
    client = AsyncMongoClient(stack.deps.mongo_uri, tz_aware=True)
    yield client[stack.billing.settings.mongo_db]
    await client.close()


@pytest.fixture(scope="session")
async def relay_bus(stack):
    """A bus as the session relay has it: tests publish session_ended the way the relay would."""
    bus = Bus(stack.deps.nats_url, source="rapport/session-relay")
    await bus.start()
    await bus.wait_connected()
    yield bus
    await bus.close()

"""Fixtures for scheduling's whole-system tests (helpers live in helpers.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pymongo import AsyncMongoClient
from rapport.scheduling.v1 import scheduling_pb2_grpc
from rapport_platform.rpc import client_channel

from tests.scheduling.helpers import Practice, replica_settings, start_replica


@pytest.fixture(scope="session")
async def http_session(stack):
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def practice(http_session) -> Practice:
    return await Practice(http_session).open()


@pytest.fixture
def http(http_session) -> httpx.AsyncClient:
    return http_session


@pytest.fixture(scope="session")
async def sched_db(stack):
    client = AsyncMongoClient(stack.deps.mongo_uri, tz_aware=True)
    yield client[stack.scheduling.settings.mongo_db]
    await client.close()


@pytest.fixture(scope="session")
async def grpc_scheduling(stack):
    channel = client_channel(stack.scheduling_addr)
    yield scheduling_pb2_grpc.SchedulingServiceStub(channel)
    await channel.close()


class ShiftedClock:
    """Real time moved by an offset: a scheduling replica that lives later than the rest."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
async def time_travel(stack):
    """Start an extra scheduling replica on the stack's database whose clock runs `offset`
    ahead (API only: no reminder loop, no consumer). Returns (stub, clock)."""
    started: list = []

    async def make(offset: timedelta) -> tuple[scheduling_pb2_grpc.SchedulingServiceStub, Callable]:
        clock = ShiftedClock(offset)
        app = await start_replica(replica_settings(stack, workers_enabled=False), clock)
        channel = client_channel(f"127.0.0.1:{app.server.port}")
        started.append((app, channel))
        return scheduling_pb2_grpc.SchedulingServiceStub(channel), clock

    yield make
    for app, channel in started:
        await channel.close()
        await app.stop(0)

"""notes-vault's whole-system fixtures: the root stack (identity, scheduling) plus notes-vault
with an injectable clock, behind a gateway of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pymongo import AsyncMongoClient
from rapport_gateway.settings import GatewaySettings
from rapport_local import procs
from rapport_notes_vault.__main__ import create as create_notes
from rapport_notes_vault.settings import NotesVaultSettings

from conftest import Gateway, start_service, unique_db
from tests.notes_vault.helpers import Care


class MovableClock:
    """Real time plus an offset the test sets (years pass without waiting)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def notes_settings(stack, **overrides) -> NotesVaultSettings:
    values: dict = {
        "grpc_port": procs.free_port(),
        "mongo_uri": stack.deps.mongo_uri,
        "mongo_db": unique_db("notes"),
        "nats_url": stack.deps.nats_url_for("notes-vault"),
        "identity_addr": stack.identity_addr,
        "vault_addr": stack.deps.vault_addr,
        "vault_token": stack.deps.vault_tokens["notes-vault"],
        "drain_seconds": 0.2,
        # Jobs are driven by the tests through the service (with the clock moved).
        "jobs_interval_seconds": 86400,
        "min_cell_size": 3,
        "care_review_after_sessions": 3,
    }
    values.update(overrides)
    return NotesVaultSettings(**values)


@pytest.fixture(scope="session")
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="session")
async def notes_app(stack, clock):
    app = await start_service(create_notes(notes_settings(stack), clock=clock))
    yield app
    await app.stop(0)


@pytest.fixture(scope="session")
async def notes_gateway(stack, notes_app):
    settings = GatewaySettings(
        http_port=procs.free_port(),
        identity_addr=stack.identity_addr,
        scheduling_addr=stack.scheduling_addr,
        notes_vault_addr=f"127.0.0.1:{notes_app.server.port}",
    )
    async with Gateway(settings) as gateway:
        yield gateway


@pytest.fixture(scope="session")
async def http(notes_gateway):
    async with httpx.AsyncClient(base_url=notes_gateway.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def notes_db(stack, notes_app):
    client = AsyncMongoClient(stack.deps.mongo_uri, tz_aware=True)
    yield client[notes_app.settings.mongo_db]
    await client.close()


@pytest.fixture(scope="session")
async def care(http, notes_db) -> Care:
    return await Care(http, notes_db).open()


@pytest.fixture
def service(notes_app):
    return notes_app.notes


@pytest.fixture
def moved(clock):
    """Set clock.offset in the test; it is reset afterwards."""
    yield clock
    clock.offset = timedelta(0)

"""The whole platform behind one gateway (identity, scheduling, billing from the root stack;
notes-vault and a session relay started here), and one world of principals and resources that
the authorization matrix and schemathesis share: made once per session, through the public API.

Every resource belongs to the first clinic, its therapist and its client; the others exist to
be refused."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pymongo import AsyncMongoClient
from rapport_gateway.settings import GatewaySettings
from rapport_local import procs
from rapport_notes_vault.__main__ import create as create_notes
from rapport_notes_vault.settings import NotesVaultSettings
from rapport_session_relay.__main__ import create as create_relay

from conftest import Gateway, start_service, unique_db
from tests.identity import operators
from tests.notes_vault.helpers import Care, soap
from tests.people import Person
from tests.session_relay.helpers import relay_settings
from tests.waiting import eventually

ROLES = (
    "anonymous",
    "client",
    "other_client",
    "therapist",
    "other_therapist",
    "admin",
    "other_admin",
    "operator",
)


@pytest.fixture(scope="session")
async def full_stack(stack):
    # Durables of their own (a setting): under the default names this notes-vault and relay
    # would share (and split) the events of the tests/notes_vault and tests/session_relay
    # instances alive in the same session, each writing to its own database.
    tag = uuid.uuid4().hex[:8]
    notes_app = create_notes(
        NotesVaultSettings(
            grpc_port=procs.free_port(),
            mongo_uri=stack.deps.mongo_uri,
            mongo_db=unique_db("notes"),
            nats_url=stack.deps.nats_url_for("notes-vault"),
            identity_addr=stack.identity_addr,
            vault_addr=stack.deps.vault_addr,
            vault_token=stack.deps.vault_tokens["notes-vault"],
            drain_seconds=0.2,
            jobs_interval_seconds=86400,
            consumer_prefix=f"notes-vault-{tag}",
        )
    )
    relay_app = create_relay(
        relay_settings(stack, unique_db("relay"), consumer_prefix=f"session-relay-{tag}")
    )
    notes = await start_service(notes_app)
    relay = await start_service(relay_app)
    port = procs.free_port()
    settings = GatewaySettings(
        http_port=port,
        identity_addr=stack.identity_addr,
        scheduling_addr=stack.scheduling_addr,
        billing_addr=stack.billing_addr,
        notes_vault_addr=f"127.0.0.1:{notes.server.port}",
        session_relay_addr=f"127.0.0.1:{relay.server.port}",
        public_url=f"http://127.0.0.1:{port}",
    )
    async with Gateway(settings) as gateway:
        yield FullStack(stack=stack, gateway=gateway, notes=notes, relay=relay)
    await relay.stop(0)
    await notes.stop(0)


@dataclass
class FullStack:
    stack: object
    gateway: Gateway
    notes: object
    relay: object

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def databases(self) -> list[str]:
        s = self.stack
        return [
            s.identity.settings.mongo_db,  # type: ignore[attr-defined]
            s.scheduling.settings.mongo_db,  # type: ignore[attr-defined]
            s.billing.settings.mongo_db,  # type: ignore[attr-defined]
            self.notes.settings.mongo_db,  # type: ignore[attr-defined]
            self.relay.settings.mongo_db,  # type: ignore[attr-defined]
        ]

    @property
    def consumers(self) -> list:
        """The durable consumers of this platform's live services (tests.settling)."""
        s = self.stack
        apps = (s.identity, s.scheduling, s.billing, self.notes, self.relay)  # type: ignore[attr-defined]
        return [c for app in apps for c in app.consumers]


@pytest.fixture(scope="session")
async def full_http(full_stack):
    async with httpx.AsyncClient(base_url=full_stack.url, timeout=30) as client:
        yield client


@dataclass
class World:
    """Principals by role name and the first clinic's resources (ids, tokens)."""

    people: dict[str, Person | None]
    ids: dict[str, str] = field(default_factory=dict)
    care: Care | None = None

    def token(self, role: str) -> dict[str, str]:
        person = self.people[role]
        return person.h if person is not None else {}


@pytest.fixture(scope="session")
async def world(full_stack, full_http):
    http = full_http
    mongo = AsyncMongoClient(full_stack.stack.deps.mongo_uri, tz_aware=True)
    notes_db = mongo[full_stack.notes.settings.mongo_db]
    care = await Care(http, notes_db).open()
    other = await Care(http, notes_db).open()
    therapist = await care.staff(0)
    client = await care.client()
    w = World(
        people={
            "anonymous": None,
            "client": client,
            "other_client": await care.client(),
            "therapist": therapist,
            "other_therapist": await other.therapist(),
            "admin": care.admin,
            "other_admin": other.admin,
            "operator": await operators.operator(http),
        },
        care=care,
    )
    # The first booking waits for notes-vault's new durable to replay every scheduling event of
    # the session so far (hundreds in a full run, on a loaded machine): a generous bound.
    r = await care.practice.book(client, therapist, care._next)
    care._next += timedelta(hours=2)
    assert r.status_code == 201, r.text
    appointment_id = r.json()["appointment_id"]
    await eventually(
        lambda: notes_db["appointments"].find_one({"_id": appointment_id, "status": "confirmed"}),
        timeout=600,
        interval=0.2,
        what="notes-vault's projection to see the first booking",
    )
    note = await care.note(therapist, client, appointment_id, sign=False)
    consent = await care.consent(client, therapist)
    feed = await http.post(f"/v1/therapists/{therapist.user_id}/calendar-feed", headers=therapist.h)
    assert feed.status_code == 201, feed.text
    licenses = await http.get(f"/v1/therapists/{therapist.user_id}/licenses", headers=therapist.h)
    grant = await http.post(
        f"/v1/clients/{client.user_id}/break-glass",
        headers=therapist.h,
        json={"reason": "crisis", "minutes": 30},
    )
    assert grant.status_code == 201, grant.text
    w.ids.update(
        clinic=care.admin.clinic_id,
        therapist=therapist.user_id,
        client=client.user_id,
        appointment=appointment_id,
        note=note["note_id"],
        consent=consent["consent_id"],
        grant=grant.json()["grant_id"],
        feed=feed.json()["feed_token"],
        license=licenses.json()["items"][0]["license_id"],
    )
    yield w
    await mongo.close()


async def snapshot(
    mongo: AsyncMongoClient,
    databases: list[str],
    skip: set[str],
    *,
    expiring_before: datetime | None = None,
) -> dict:
    """A digest of every document of every service's database (collections in `skip` aside):
    equal digests mean nothing was written. `expiring_before`: documents whose `expires_at`
    falls before it are left out (the database's TTL sweep removes them on its own schedule,
    such as a hold another test made)."""
    query = {} if expiring_before is None else {"expires_at": {"$not": {"$lte": expiring_before}}}
    out: dict[str, str] = {}
    for name in databases:
        db = mongo[name]
        for coll in sorted(await db.list_collection_names()):
            # "notes.appointments": a collection of one service only (by its database prefix).
            if coll in skip or f"{name.split('_')[0]}.{coll}" in skip:
                continue
            h = hashlib.sha256()
            # Raw BSON, undecoded: the same bytes for the same documents, and cheap.
            async for batch in db[coll].find_raw_batches(query, sort=[("_id", 1)]):
                h.update(batch)
            out[f"{name}.{coll}"] = h.hexdigest()
    return out


__all__ = ["ROLES", "FullStack", "World", "snapshot", "soap"]


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()

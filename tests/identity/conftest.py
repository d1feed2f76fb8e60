"""Helpers for identity's whole-system tests: people made through the gateway's public API."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
from pymongo import AsyncMongoClient
from rapport_gateway.settings import GatewaySettings
from rapport_identity.__main__ import create as create_identity
from rapport_local import procs, vault_bootstrap

from tests.identity import operators
from tests.people import PASSWORD, Person, assert_problem

FUTURE = "2099-12-31"


def new_email() -> str:
    return f"id-{uuid.uuid4().hex[:12]}@example.org"


class Api:
    """Test modules reach the helpers through the `api` fixture (conftest is not importable)."""

    PASSWORD = PASSWORD
    FUTURE = FUTURE

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    problem = staticmethod(assert_problem)
    new_email = staticmethod(new_email)

    @staticmethod
    def clinic_body(currency: str = "EUR", **overrides) -> dict:
        return clinic_body(currency, **overrides)

    @staticmethod
    def profile_body(**overrides) -> dict:
        return profile_body(**overrides)

    async def register(
        self, role: str, jurisdiction: str = "US-CA", name: str = "Pat", email: str = ""
    ) -> Person:
        email = email or new_email()
        r = await self.http.post(
            "/v1/auth/register",
            json={
                "email": email,
                "password": PASSWORD,
                "role": role,
                "display_name": name,
                "jurisdiction": jurisdiction,
            },
        )
        assert r.status_code == 201, r.text
        person = Person(user_id=r.json()["user_id"], email=email, role=role)
        await self.login(person)
        return person

    async def login(self, person: Person, *, mfa: bool = False) -> dict:
        body = {"email": person.email, "password": PASSWORD}
        if mfa:
            body["totp_code"] = await person.next_code()
        r = await self.http.post("/v1/auth/login", json=body)
        assert r.status_code == 200, r.text
        tokens = r.json()
        person.access, person.refresh = tokens["access_token"], tokens["refresh_token"]
        return tokens

    async def enable_mfa(self, person: Person) -> None:
        r = await self.http.post(
            "/v1/auth/mfa/enroll", headers=person.h, json={"password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        person.totp_secret = r.json()["secret"]
        r = await self.http.post(
            "/v1/auth/mfa/confirm", headers=person.h, json={"totp_code": await person.next_code()}
        )
        assert r.status_code == 200, r.text
        await self.login(person, mfa=True)

    async def therapist(self, name: str = "Dr Therapist") -> Person:
        return await self.register("therapist", jurisdiction="", name=name)

    async def admin(
        self, *, currency: str = "EUR", mfa: bool = True, approved: bool = True
    ) -> Person:
        """A client account that founds a clinic (approved by an operator unless told not to),
        then signs in again (with MFA) as its admin."""
        person = await self.register("client", jurisdiction="FR-75C", name="Admin")
        r = await self.http.post("/v1/clinics", headers=person.h, json=clinic_body(currency))
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "pending"
        person.clinic_id = r.json()["clinic_id"]
        person.role = "clinic_admin"
        # The role change revoked the client token: sign in again as the admin.
        await self.login(person)
        if approved:
            await operators.approve(self.http, person.clinic_id)
        if mfa:
            await self.enable_mfa(person)
        else:
            await self.login(person)
        return person

    async def add_license(self, therapist: Person, jurisdiction: str, **extra) -> dict:
        body = {
            "kind": "psychologist",
            "jurisdiction": jurisdiction,
            "number": "PSY-1",
            "expires_on": FUTURE,
            **extra,
        }
        r = await self.http.post(
            f"/v1/therapists/{therapist.user_id}/licenses", headers=therapist.h, json=body
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def operator(self) -> Person:
        """A new platform operator (flag granted as the CLI does), signed in with MFA."""
        return await operators.new_operator(self.http)

    async def invite(self, admin: Person, therapist: Person) -> None:
        """The therapist joins the admin's clinic and signs in again."""
        r = await self.http.post(
            f"/v1/clinics/{admin.clinic_id}/invitations",
            headers=admin.h,
            json={"email": therapist.email},
        )
        assert r.status_code == 201, r.text
        r = await self.http.post(
            f"/v1/invitations/{r.json()['invitation_token']}/accept", headers=therapist.h
        )
        assert r.status_code == 200, r.text
        therapist.clinic_id = admin.clinic_id
        await self.login(therapist)

    async def verify(self, admin: Person, therapist: Person, license_id: str) -> httpx.Response:
        return await self.http.post(
            f"/v1/therapists/{therapist.user_id}/licenses/{license_id}/verify", headers=admin.h
        )

    async def put_profile(self, therapist: Person, **overrides) -> httpx.Response:
        return await self.http.put(
            f"/v1/therapists/{therapist.user_id}/profile",
            headers=therapist.h,
            json=profile_body(**overrides),
        )


def clinic_body(currency: str = "EUR", **overrides) -> dict:
    body = {
        "name": "Clinique du Parc",
        "currency": currency,
        "timezone": "Europe/Paris",
        "commission_bps": 1500,
        "cancellation_window_hours": 24,
        "late_cancellation_fee_minor": 3000,
    }
    body.update(overrides)
    return body


def profile_body(**overrides) -> dict:
    body = {
        "display_name": "Dr Therapist",
        "bio": "Cognitive behavioural therapy.",
        "languages": ["en", "fr-FR"],
        "modalities": ["video", "chat"],
        "specialties": ["addiction", "anxiety"],
        "session_types": [
            {"name": "intake-50", "duration_minutes": 50, "price_minor": 9000},
            {"name": "chat-30", "duration_minutes": 30, "price_minor": 4000},
        ],
    }
    body.update(overrides)
    return body


@pytest.fixture
async def http(stack):
    async with httpx.AsyncClient(base_url=stack.url) as client:
        yield client


@pytest.fixture
def api(http) -> Api:
    return Api(http)


@pytest.fixture
async def db(stack):
    client = AsyncMongoClient(stack.deps.mongo_uri, tz_aware=True)
    yield client[stack.identity.settings.mongo_db]
    await client.close()


# --- stacks of our own: a controllable clock, tight throttling, a Vault of their own ----------


class Clock:
    """Real time plus an offset the test moves (identity's clock; tokens signed while it is
    moved carry a future `iat`, so tests move it only around what they check)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.frozen: datetime | None = None

    def __call__(self) -> datetime:
        return (self.frozen or datetime.now(UTC)) + self.offset

    @contextlib.contextmanager
    def stopped(self) -> Iterator[datetime]:
        """Identity's time stands still (on a whole second) while the block runs, but for the
        steps the test makes with `offset`: windows and waits come out exact, however slowly
        the machine runs the block."""
        self.frozen = datetime.now(UTC).replace(microsecond=0)
        try:
            yield self.frozen
        finally:
            self.frozen = None

    @contextlib.contextmanager
    def at_midday(self, day: date | None = None) -> Iterator[date]:
        """Identity's clock at noon (UTC) of `day` (today by default) while the block runs: the
        test and the service agree on the date even if the test runs over midnight. Tokens are
        verified against real time: sign in before, not inside, the block."""
        day = day or datetime.now(UTC).date()
        self.offset = datetime.combine(day, time(12), UTC) - datetime.now(UTC)
        try:
            yield day
        finally:
            self.offset = timedelta(0)


@dataclass
class OwnStack:
    identity: object
    gateway: object
    clock: Clock
    url: str
    identity_addr: str
    mongo_uri: str
    vault_addr: str = ""

    @property
    def periodic(self):
        return self.identity.periodic

    @property
    def db_name(self) -> str:
        return self.identity.settings.mongo_db


@pytest.fixture(scope="session")
def root(request):
    """The root conftest's helpers (Gateway, identity_settings, start_service): pytest loads it
    as a plugin, not as an importable module, once a sub-directory has a conftest too."""
    path = str(request.config.rootpath / "conftest.py")
    for plugin in request.config.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) == path:
            return plugin
    raise LookupError(path)


@contextlib.asynccontextmanager
async def own_stack(root, deps, *, vault=None, **overrides) -> AsyncIterator[OwnStack]:
    Gateway, identity_settings, start_service = (
        root.Gateway,
        root.identity_settings,
        root.start_service,
    )
    clock = Clock()
    if vault is not None:
        overrides |= {"vault_addr": vault[0], "vault_token": vault[1]}
    identity = await start_service(
        create_identity(identity_settings(deps, **overrides), clock=clock)
    )
    addr = f"127.0.0.1:{identity.server.port}"
    settings = GatewaySettings(http_port=procs.free_port(), identity_addr=addr)
    async with Gateway(settings) as gateway:
        yield OwnStack(
            identity=identity,
            gateway=gateway,
            clock=clock,
            url=gateway.url,
            identity_addr=addr,
            mongo_uri=deps.mongo_uri,
            vault_addr=overrides.get("vault_addr", deps.vault_addr),
        )
    await identity.stop(0)


@pytest.fixture
def make_stack(root, deps):
    """`async with make_stack(**settings) as stack:` an identity and gateway of the test's own."""
    return lambda **overrides: own_stack(root, deps, **overrides)


@pytest.fixture(scope="session")
async def clocked(root, deps, tmp_path_factory):
    """Identity with a movable clock and a Vault of its own (key rotation touches no other
    test's key), bootstrapped with the real least-privilege policies."""
    root_token = f"root-{uuid.uuid4()}"
    bao = procs.start_bao_dev(
        procs.free_port(), root_token, log_path=tmp_path_factory.mktemp("bao") / "bao.log"
    )
    try:
        tokens = vault_bootstrap.bootstrap(bao.url, root_token)
        async with own_stack(
            root,
            deps,
            vault=(bao.url, tokens["identity"]),
            # The tests drive the periodic jobs themselves, with the clock they set.
            license_sweep_check_seconds=86_400,
        ) as stack:
            yield stack
    finally:
        bao.stop()


@pytest.fixture
async def clocked_api(clocked):
    async with httpx.AsyncClient(base_url=clocked.url) as client:
        yield Api(client)
    clocked.clock.offset = timedelta(0)


@pytest.fixture
async def clocked_db(clocked):
    client = AsyncMongoClient(clocked.mongo_uri, tz_aware=True)
    yield client[clocked.db_name]
    await client.close()


@pytest.fixture(scope="module")
async def throttled(root, deps):
    """Identity with tight sign-in limits (and a movable clock, to skip the waits)."""
    async with own_stack(
        root,
        deps,
        login_account_slowdown_after=2,
        login_account_lock_after=3,
        login_address_slowdown_after=8,
        login_address_lock_after=10,
        # One account from one address: as loose as the address here (these tests are about
        # the account and the address counters; test_lockout.py tries the pair's).
        login_pair_slowdown_after=8,
        login_pair_lock_after=10,
        login_lockout_seconds=600,
        login_max_delay_seconds=30,
    ) as stack:
        yield stack
    stack.clock.offset = timedelta(0)


@pytest.fixture
async def grpc_identity(stack):
    from rapport.identity.v1 import identity_pb2_grpc
    from rapport_platform.rpc import client_channel

    channel = client_channel(stack.identity_addr)
    yield identity_pb2_grpc.IdentityServiceStub(channel)
    await channel.close()

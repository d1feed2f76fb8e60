"""Platform operators for whole-system tests.

Operator rights are granted only by `python -m rapport_identity operator grant`, on identity's
own database; tests grant them with the same function (rapport_identity.cli.grant). To find the
database behind a gateway, the root conftest records which identity each gateway talks to
(`serving`, `routing`). Clinics must be approved by an operator before their admins can verify
licences: `approve(http, clinic_id)` does it with one operator per gateway, made on first use.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
from rapport_identity import cli
from rapport_identity.settings import IdentitySettings
from rapport_platform.store import Store

from tests.people import PASSWORD, Person

_identity_at: dict[str, IdentitySettings] = {}  # identity gRPC address -> its settings
_identity_behind: dict[str, str] = {}  # gateway base URL -> identity gRPC address
_operators: dict[str, Person] = {}  # gateway base URL -> an operator signed in with MFA
_locks: dict[str, asyncio.Lock] = {}


def serving(addr: str, settings: IdentitySettings) -> None:
    _identity_at[addr] = settings


def routing(gateway_url: str, identity_addr: str) -> None:
    _identity_behind[gateway_url.rstrip("/")] = identity_addr


def settings_behind(http: httpx.AsyncClient) -> IdentitySettings:
    url = str(http.base_url).rstrip("/")
    return _identity_at[_identity_behind[url]]


async def grant(settings: IdentitySettings, user_id: str) -> None:
    """What `python -m rapport_identity operator grant <user_id>` does."""
    store = Store(settings.mongo_uri, settings.mongo_db)
    try:
        await cli.grant(store, user_id)
    finally:
        await store.close()


async def revoke(settings: IdentitySettings, user_id: str) -> None:
    store = Store(settings.mongo_uri, settings.mongo_db)
    try:
        await cli.revoke(store, user_id)
    finally:
        await store.close()


def _check(r: httpx.Response, status: int = 200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


async def new_operator(http: httpx.AsyncClient) -> Person:
    """A dedicated client account, flagged, signed in again (now the marketplace's admin), with
    multi-factor enrolled and a sign-in that carries it."""
    email = f"operator-{uuid.uuid4().hex[:12]}@example.org"
    body = {
        "email": email,
        "password": PASSWORD,
        "role": "client",
        "display_name": "Operator",
        "jurisdiction": "US-CA",
    }
    person = Person(
        user_id=(_check(await http.post("/v1/auth/register", json=body), 201))["user_id"],
        email=email,
        role="client",
    )
    await grant(settings_behind(http), person.user_id)
    login = {"email": email, "password": PASSWORD}
    person.access = (_check(await http.post("/v1/auth/login", json=login)))["access_token"]
    person.role, person.clinic_id = "clinic_admin", "marketplace"
    enrol = await http.post("/v1/auth/mfa/enroll", headers=person.h, json={"password": PASSWORD})
    person.totp_secret = (_check(enrol))["secret"]
    confirm = {"totp_code": await person.next_code()}
    _check(await http.post("/v1/auth/mfa/confirm", headers=person.h, json=confirm))
    tokens = _check(
        await http.post("/v1/auth/login", json={**login, "totp_code": await person.next_code()})
    )
    person.access, person.refresh = tokens["access_token"], tokens["refresh_token"]
    return person


async def operator(http: httpx.AsyncClient) -> Person:
    url = str(http.base_url).rstrip("/")
    async with _locks.setdefault(url, asyncio.Lock()):
        if url not in _operators:
            _operators[url] = await new_operator(http)
        return _operators[url]


async def approve(http: httpx.AsyncClient, clinic_id: str) -> dict:
    """The clinic, approved by this gateway's operator."""
    op = await operator(http)
    r = await http.post(f"/v1/clinics/{clinic_id}/approve", headers=op.h)
    if r.status_code == 401:  # the access token expired: refreshing keeps the sign-in's MFA
        tokens = _check(await http.post("/v1/auth/refresh", json={"refresh_token": op.refresh}))
        op.access, op.refresh = tokens["access_token"], tokens["refresh_token"]
        r = await http.post(f"/v1/clinics/{clinic_id}/approve", headers=op.h)
    clinic = _check(r)
    assert clinic["status"] == "approved"
    return clinic

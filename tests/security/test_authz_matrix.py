"""The authorization matrix, generated from the gateway's own routes (issue 13): every route of
the FastAPI app, called as anonymous, client, another client, therapist, another clinic's therapist,
clinic admin, another clinic's admin and a platform operator. The resources belong to the first
client, therapist and clinic. A route without an expectation below fails the test, so a new
route is covered from the day it lands.

Every route's outsiders are called first: each must be refused (401, 403 or 404) and, refused,
must have changed nothing in any service's database (one digest before all the refusals, one
after; a change is traced to its route). Then each role allowed must get a 2xx (on a resource
of its own making where the call consumes it: a cancel, a signature)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from pymongo import AsyncMongoClient
from rapport_gateway.app import create_app
from rapport_gateway.settings import GatewaySettings
from starlette.routing import BaseRoute, Mount, Route

from tests.notes_vault.helpers import soap
from tests.people import PASSWORD
from tests.scheduling.helpers import on_grid, rfc3339
from tests.security.conftest import ROLES, FullStack, World, snapshot
from tests.settling import settled
from tests.waiting import eventually

pytestmark = pytest.mark.timeout(900)

EVERYONE = frozenset(ROLES)
SIGNED_IN = EVERYONE - {"anonymous"}
NOBODY: frozenset[str] = frozenset()
REFUSED = {401, 403, 404}
# Collections that record a refusal or a read on purpose (the audit chain records denied
# access to notes; sign-in throttling counts failures), or that services write on their own
# schedule (outbox relays, consumers' offsets, notes-vault's projection of bookings made
# before): not a change a refused caller made.
BOOKKEEPING = {
    "audit",
    "audit_head",
    "outbox",
    "throttles",
    "processed_events",
    "inbox",
    "locks",
    "leases",
}


def roles(*names: str) -> frozenset[str]:
    assert set(names) <= EVERYONE, names
    return frozenset(names)


Build = Callable[[World], Any]
Fresh = Callable[["Ctx", str], Awaitable[dict[str, str]]]


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str]
    json: Build | None = None
    params: Build | None = None
    headers: Build | None = None
    fresh: Fresh | None = None  # ids of a resource made for one allowed call (it consumes it)
    ok: frozenset[int] = frozenset({200, 201, 202, 204})
    refused: frozenset[int] = frozenset(REFUSED)
    path: str = ""  # what to call, when the route's path is a pattern (a mount)


@dataclass
class Ctx:
    http: httpx.AsyncClient
    world: World
    made: dict[str, Any] = field(default_factory=dict)


# --- resources made for one allowed call --------------------------------------------------


async def fresh_appointment(ctx: Ctx, role: str) -> dict[str, str]:
    care = ctx.world.care
    assert care is not None
    client, therapist = ctx.world.people["client"], ctx.world.people["therapist"]
    assert client is not None and therapist is not None
    return {"appointment_id": await care.book(client, therapist)}


async def fresh_note(ctx: Ctx, role: str) -> dict[str, str]:
    care = ctx.world.care
    assert care is not None
    w = ctx.world
    note = await care.note(
        w.people["therapist"], w.people["client"], w.ids["appointment"], sign=False
    )
    return {"note_id": note["note_id"]}


async def fresh_signed_note(ctx: Ctx, role: str) -> dict[str, str]:
    care = ctx.world.care
    assert care is not None
    w = ctx.world
    note = await care.note(w.people["therapist"], w.people["client"], w.ids["appointment"])
    return {"note_id": note["note_id"]}


async def fresh_consent(ctx: Ctx, role: str) -> dict[str, str]:
    care = ctx.world.care
    assert care is not None
    w = ctx.world
    consent = await care.consent(w.people["client"], w.people["therapist"])
    return {"consent_id": consent["consent_id"]}


async def fresh_grant(ctx: Ctx, role: str) -> dict[str, str]:
    """An emergency access not reviewed yet (a review is recorded once)."""
    w = ctx.world
    r = await ctx.http.post(
        f"/v1/clients/{w.ids['client']}/break-glass",
        headers=w.token("therapist"),
        json={"reason": "crisis", "minutes": 30},
    )
    assert r.status_code == 201, r.text
    return {"grant_id": r.json()["grant_id"]}


async def new_account(ctx: Ctx, role: str) -> tuple[str, str]:
    body = register_body(ctx.world) | {"role": role}
    r = await ctx.http.post("/v1/auth/register", json=body)
    assert r.status_code == 201, r.text
    r = await ctx.http.post("/v1/auth/login", json={"email": body["email"], "password": PASSWORD})
    assert r.status_code == 200, r.text
    return body["email"], f"Bearer {r.json()['access_token']}"


async def fresh_invitation(ctx: Ctx, role: str) -> dict[str, str]:
    """An invitation of the first clinic for a new therapist of no clinic (who calls in the
    place of the other clinic's therapist: joining changes the account's role and tokens)."""
    email, auth = await new_account(ctx, "therapist")
    r = await ctx.http.post(
        f"/v1/clinics/{ctx.world.ids['clinic']}/invitations",
        headers=ctx.world.token("admin"),
        json={"email": email},
    )
    assert r.status_code == 201, r.text
    return {"invitation_token": r.json()["invitation_token"], "_auth": auth}


async def fresh_member(ctx: Ctx, role: str) -> dict[str, str]:
    """A new therapist of the first clinic (a reset ends every session of the account)."""
    made = await fresh_invitation(ctx, role)
    r = await ctx.http.post(
        f"/v1/invitations/{made['invitation_token']}/accept",
        headers={"Authorization": made["_auth"]},
    )
    assert r.status_code == 200, r.text
    payload = made["_auth"].removeprefix("Bearer ").split(".")[1]
    return {"user_id": json.loads(base64.urlsafe_b64decode(payload + "=="))["sub"]}


async def fresh_founder(ctx: Ctx, role: str) -> dict[str, str]:
    """A client of no clinic and no bookings, in the place of the other client (founding a
    clinic makes the account its admin)."""
    return {"_auth": (await new_account(ctx, "client"))[1]}


async def fresh_feed(ctx: Ctx, role: str) -> dict[str, str]:
    """The therapist's current feed (creating one replaces the last)."""
    w = ctx.world
    r = await ctx.http.post(
        f"/v1/therapists/{w.ids['therapist']}/calendar-feed", headers=w.token("therapist")
    )
    assert r.status_code == 201, r.text
    return {"feed_token": r.json()["feed_token"]}


async def fresh_erasure(ctx: Ctx, role: str) -> dict[str, str]:
    """A client of their own to erase (erasure destroys the first client's drafts)."""
    _, auth = await new_account(ctx, "client")
    r = await ctx.http.get("/v1/me", headers={"Authorization": auth})
    own = {"client_id": r.json()["user_id"]}
    return own | {"_auth": auth} if role == "client" else own


async def fresh_hold(ctx: Ctx, role: str) -> dict[str, str]:
    w = ctx.world
    r = await ctx.http.post(
        "/v1/appointments", headers=w.token("client"), json=book_body(w) | {"hold": True}
    )
    assert r.status_code == 201, r.text
    return {"appointment_id": r.json()["appointment_id"]}


async def fresh_refresh(ctx: Ctx, role: str) -> dict[str, str]:
    r = await ctx.http.post("/v1/auth/login", json=ctx.made["throwaway"])
    assert r.status_code == 200, r.text
    return {"refresh_token": r.json()["refresh_token"]}


# --- request bodies --------------------------------------------------------------------------


def register_body(w: World) -> dict:
    return {
        "email": f"m-{uuid.uuid4().hex[:12]}@example.org",
        "password": PASSWORD,
        "role": "client",
        "display_name": "Matrix Person",
        "jurisdiction": "US-CA",
    }


def profile_body(w: World) -> dict:
    return {
        "display_name": "Dr Jordan Example",
        "bio": "",
        "languages": ["en"],
        "modalities": ["video", "chat"],
        "specialties": ["anxiety"],
        "session_types": [
            {"name": "talk-30", "duration_minutes": 30, "price_minor": 6000},
            {"name": "talk-50", "duration_minutes": 50, "price_minor": 9000},
            {"name": "long-90", "duration_minutes": 90, "price_minor": 15000},
        ],
    }


def availability_body(w: World) -> dict:
    return {
        "timezone": "UTC",
        "weekly": [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)],
        "buffer_minutes": 0,
        "min_notice_minutes": 0,
        "horizon_days": 60,
        "slot_step_minutes": 15,
    }


def later(days: float) -> str:
    return rfc3339(on_grid(datetime.now(UTC) + timedelta(days=days)))


_starts = itertools.count()


def unique_start() -> str:
    """A start of its own per call (each allowed booking or move takes one): two hours apart,
    from twelve days ahead (the world's own bookings start two days ahead)."""
    base = on_grid(datetime.now(UTC) + timedelta(days=12))
    return rfc3339(base + timedelta(hours=2 * next(_starts)))


def book_body(w: World) -> dict:
    return {
        "therapist_id": w.ids["therapist"],
        "session_type": "talk-30",
        "start": unique_start(),
        "modality": "video",
    }


def note_body(w: World) -> dict:
    return {"appointment_id": w.ids["appointment"], "kind": "progress", "sections": soap()}


def consent_body(w: World) -> dict:
    return {
        "recipient_id": w.ids["therapist"],
        "purpose": "treatment",
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }


CLINIC = {
    "name": "Matrix Clinic",
    "currency": "USD",
    "timezone": "UTC",
    "commission_bps": 1000,
    "cancellation_window_hours": 24,
    "late_cancellation_fee_minor": 0,
}
ANYONE_SIGNED_IN = Rule(SIGNED_IN)
# The first clinic's own people (admin, therapist) and operators for clinic-scoped reads.
EXPECTATIONS: dict[str, Rule] = {
    # ops and public documents
    "GET /healthz": Rule(EVERYONE),
    "GET /readyz": Rule(EVERYONE),
    "GET /openapi.json": Rule(EVERYONE),
    "GET /docs": Rule(EVERYONE),
    "GET /docs/oauth2-redirect": Rule(EVERYONE),
    "GET /docs/assets": Rule(EVERYONE, path="/docs/assets/swagger-ui.css"),
    "GET /.well-known/jwks.json": Rule(EVERYONE),
    # auth: anonymous by design (a token changes nothing)
    "POST /v1/auth/register": Rule(EVERYONE, json=register_body),
    "POST /v1/auth/login": Rule(
        EVERYONE, json=lambda w: {"email": w.made_login, "password": PASSWORD}
    ),
    "POST /v1/auth/refresh": Rule(EVERYONE, fresh=fresh_refresh, json=lambda w: None),
    "POST /v1/auth/logout": Rule(EVERYONE, fresh=fresh_refresh, json=lambda w: None),
    # Everyone here has multi-factor on already: 409 is past every authorization check.
    "POST /v1/auth/mfa/enroll": Rule(
        SIGNED_IN, json=lambda w: {"password": PASSWORD}, ok=frozenset({409})
    ),
    "POST /v1/auth/mfa/confirm": Rule(
        SIGNED_IN, json=lambda w: {"totp_code": "000000"}, ok=frozenset({409})
    ),
    "GET /v1/me": ANYONE_SIGNED_IN,
    # clinics
    # Any client account may found a clinic (bookings and all, tests/scheduling): the calls are
    # made by new accounts, since founding makes the caller the clinic's admin.
    "POST /v1/clinics": Rule(
        roles("client", "other_client"), json=lambda w: CLINIC, fresh=fresh_founder
    ),
    "GET /v1/clinics/{clinic_id}": ANYONE_SIGNED_IN,
    "POST /v1/clinics/{clinic_id}/approve": Rule(roles("operator")),
    "PATCH /v1/clinics/{clinic_id}/terms": Rule(
        roles("admin", "operator"), json=lambda w: {"max_active_bookings_per_therapist": 20}
    ),
    "POST /v1/clinics/{clinic_id}/invitations": Rule(
        roles("admin"), json=lambda w: {"email": f"i-{uuid.uuid4().hex[:8]}@example.org"}
    ),
    "POST /v1/users/{user_id}/mfa/reset": Rule(roles("admin", "operator"), fresh=fresh_member),
    "POST /v1/invitations/{invitation_token}/accept": Rule(
        roles("other_therapist"), fresh=fresh_invitation
    ),
    "GET /v1/clinics/{clinic_id}/therapists": Rule(roles("admin")),
    # therapists
    "POST /v1/therapists/{therapist_id}/licenses": Rule(
        roles("therapist"),
        json=lambda w: {
            "kind": "psychologist",
            "jurisdiction": "US-NY",
            "number": "PSY-2",
            "expires_on": "2099-12-31",
        },
    ),
    "GET /v1/therapists/{therapist_id}/licenses": Rule(roles("therapist", "admin")),
    "POST /v1/therapists/{therapist_id}/licenses/{license_id}/verify": Rule(roles("admin")),
    "GET /v1/therapists/{therapist_id}/eligibility": Rule(
        SIGNED_IN, params=lambda w: {"jurisdiction": "US-CA"}
    ),
    "PUT /v1/therapists/{therapist_id}/profile": Rule(roles("therapist"), json=profile_body),
    "GET /v1/therapists/{therapist_id}/profile": ANYONE_SIGNED_IN,
    "GET /v1/therapists": Rule(EVERYONE, params=lambda w: {"jurisdiction": "US-CA"}),
    "POST /v1/ops/signing-keys/rotate": Rule(roles("operator")),
    "PUT /v1/therapists/{therapist_id}/availability": Rule(
        roles("therapist"), json=availability_body
    ),
    "GET /v1/therapists/{therapist_id}/availability": ANYONE_SIGNED_IN,
    "GET /v1/therapists/{therapist_id}/slots": Rule(
        SIGNED_IN,
        params=lambda w: {"from": later(5), "to": later(6), "session_type": "talk-50"},
    ),
    # appointments
    "POST /v1/appointments": Rule(roles("client", "other_client"), json=book_body),
    "GET /v1/appointments": ANYONE_SIGNED_IN,
    "GET /v1/appointments/{appointment_id}": Rule(roles("client", "therapist", "admin")),
    "POST /v1/appointments/{appointment_id}/confirm": Rule(roles("client"), fresh=fresh_hold),
    "POST /v1/appointments/{appointment_id}/cancel": Rule(
        roles("client", "therapist", "admin"), json=lambda w: {}, fresh=fresh_appointment
    ),
    "POST /v1/appointments/{appointment_id}/reschedule": Rule(
        roles("client", "therapist", "admin"),
        json=lambda w: {"start": unique_start()},
        fresh=fresh_appointment,
    ),
    # Only after the start: 409 is past every authorization check.
    "POST /v1/appointments/{appointment_id}/no-show": Rule(roles("therapist"), ok=frozenset({409})),
    "POST /v1/therapists/{therapist_id}/calendar-feed": Rule(roles("therapist")),
    # The secret URL is the credential (no token needed, none helps).
    "GET /v1/calendar-feeds/{feed_token}.ics": Rule(EVERYONE, fresh=fresh_feed),
    "POST /v1/appointments/{appointment_id}/session-token": Rule(roles("client", "therapist")),
    # notes
    "POST /v1/clients/{client_id}/notes": Rule(roles("therapist"), json=note_body),
    # The clinic's admin sees the list (administrative metadata, never the clinical fields);
    # content only through GET /v1/notes/{id}. Outsiders get 403, not an empty page.
    "GET /v1/clients/{client_id}/notes": Rule(roles("client", "therapist", "admin")),
    "GET /v1/notes/{note_id}": Rule(roles("therapist")),
    "PUT /v1/notes/{note_id}": Rule(roles("therapist"), json=lambda w: {"sections": soap("v2")}),
    "POST /v1/notes/{note_id}/sign": Rule(roles("therapist"), fresh=fresh_note),
    "POST /v1/notes/{note_id}/amend": Rule(
        roles("therapist"), json=lambda w: {"sections": soap("amended")}, fresh=fresh_signed_note
    ),
    "POST /v1/clients/{client_id}/consents": Rule(roles("client"), json=consent_body),
    "GET /v1/clients/{client_id}/consents": Rule(roles("client", "therapist")),
    "POST /v1/consents/{consent_id}/revoke": Rule(roles("client"), fresh=fresh_consent),
    "GET /v1/clients/{client_id}/disclosures": Rule(roles("client")),
    "POST /v1/clients/{client_id}/break-glass": Rule(
        roles("therapist"), json=lambda w: {"reason": "crisis", "minutes": 30}
    ),
    "GET /v1/clinics/{clinic_id}/break-glass": Rule(roles("admin")),
    "GET /v1/clinics/{clinic_id}/records-retention": Rule(roles("admin")),
    "PUT /v1/clinics/{clinic_id}/records-retention": Rule(
        roles("admin"), json=lambda w: {"retention_days": 36500}
    ),
    "POST /v1/break-glass/{grant_id}/review": Rule(
        roles("admin"), json=lambda w: {"outcome": "justified"}, fresh=fresh_grant
    ),
    "POST /v1/clients/{client_id}/erasure": Rule(roles("client", "operator"), fresh=fresh_erasure),
    "PUT /v1/clients/{client_id}/legal-hold": Rule(
        roles("admin", "operator"), json=lambda w: {"hold": False}
    ),
    "POST /v1/audit/verify": Rule(roles("operator")),
    "POST /v1/clients/{client_id}/measures": Rule(
        roles("client", "therapist"), json=lambda w: {"instrument": "GAD7", "answers": [1] * 7}
    ),
    "GET /v1/clients/{client_id}/measures": Rule(roles("client", "therapist")),
    "GET /v1/clinics/{clinic_id}/outcomes": Rule(roles("admin")),
    "GET /v1/therapists/{therapist_id}/outcomes": Rule(roles("therapist")),
    # billing
    "GET /v1/invoices": ANYONE_SIGNED_IN,
    "POST /v1/appointments/{appointment_id}/payment": Rule(roles("client")),
    "POST /v1/invoices/{invoice_id}/payments": Rule(
        roles("admin"), json=lambda w: {"amount_minor": 100, "currency": "USD", "method": "cash"}
    ),
    # Money returned by hand: 409 while nothing is owed back, past every authorization check.
    "POST /v1/invoices/{invoice_id}/refunds": Rule(
        roles("admin"),
        json=lambda w: {"amount_minor": 100, "currency": "USD", "method": "cash"},
        ok=frozenset({201, 409}),
    ),
    # Stripe is asked whether it knows the account (409 when it does not, as in the matrix).
    "PUT /v1/clinics/{clinic_id}/stripe-account": Rule(
        roles("admin"),
        json=lambda w: {"account_id": "acct_1Matrix000000000"},
        ok=frozenset({200, 409}),
    ),
    "GET /v1/clinics/{clinic_id}/billing": Rule(roles("admin")),
    "PUT /v1/clinics/{clinic_id}/billing": Rule(roles("admin"), json=lambda w: {}),
    "GET /v1/clinics/{clinic_id}/ledger/check": Rule(roles("admin")),
    # Another clinic's admin and an operator are refused even for a month without earnings.
    "GET /v1/therapists/{therapist_id}/payouts": Rule(
        roles("therapist", "admin"),
        params=lambda w: {"period": datetime.now(UTC).strftime("%Y-%m")},
    ),
    # No failed payout to send again: 409 is past every authorization check.
    "POST /v1/therapists/{therapist_id}/payouts/{period}/retry": Rule(
        roles("admin"), ok=frozenset({409})
    ),
    # Not before the session took place: 409 is past every authorization check.
    "PUT /v1/appointments/{appointment_id}/diagnosis": Rule(
        roles("therapist"), json=lambda w: {"diagnosis_code": "F41.1"}, ok=frozenset({409})
    ),
    "GET /v1/appointments/{appointment_id}/superbill": Rule(
        roles("client", "therapist", "admin"), ok=frozenset({409})
    ),
    "GET /v1/appointments/{appointment_id}/superbill.html": Rule(
        roles("client", "therapist", "admin"), ok=frozenset({409})
    ),
    # Stripe's signature is the credential; nobody's bearer token is.
    "POST /v1/billing/stripe/webhook": Rule(
        NOBODY,
        headers=lambda w: {"Stripe-Signature": "t=1,v1=0"},
        json=lambda w: {"type": "payment_intent.succeeded"},
        refused=frozenset({400, 422}),
    ),
}


def all_routes(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, str]]:
    """(method, path) of every route, through included routers and mounts."""
    out: list[tuple[str, str]] = []
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI's included router
            out += all_routes(route.original_router.routes, prefix)  # type: ignore[attr-defined]
        elif isinstance(route, Mount):
            out.append(("GET", prefix + route.path))
        elif isinstance(route, APIRoute | Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                out.append((method, prefix + route.path))
    return out


PATH_IDS = {
    "clinic_id": "clinic",
    "therapist_id": "therapist",
    "user_id": "therapist",
    "client_id": "client",
    "appointment_id": "appointment",
    "note_id": "note",
    "consent_id": "consent",
    "grant_id": "grant",
    "license_id": "license",
    "invoice_id": "invoice",
    "feed_token": "feed",
    "invitation_token": "invitation",
}


def fill(path: str, ids: dict[str, str]) -> str:
    return path.format(**{k: ids.get(k, "") for k in PATH_IDS} | ids)


async def call(ctx: Ctx, method: str, path: str, rule: Rule, role: str, ids: dict[str, str]):
    w = ctx.world
    body = rule.json(w) if rule.json else None
    if "refresh_token" in ids:
        body = {"refresh_token": ids["refresh_token"]}
    headers = {**w.token(role), **(rule.headers(w) if rule.headers else {})}
    if "_auth" in ids:
        headers["Authorization"] = ids["_auth"]
    return await ctx.http.request(
        method,
        rule.path or fill(path, ids),
        headers=headers,
        json=body,
        params=rule.params(w) if rule.params else None,
    )


def test_every_route_has_an_expectation():
    app = create_app(GatewaySettings())
    keys = {f"{m} {p}" for m, p in all_routes(app.routes)}
    missing = sorted(keys - EXPECTATIONS.keys())
    assert not missing, f"routes without an authorization expectation: {missing}"
    stale = sorted(EXPECTATIONS.keys() - keys)
    assert not stale, f"expectations for routes that no longer exist: {stale}"


async def test_authorization_matrix(full_stack, full_http, world):
    ctx = Ctx(http=full_http, world=world)
    # The shared ids every path needs, plus a throwaway account for refresh and logout.
    throwaway = register_body(world)
    assert (await full_http.post("/v1/auth/register", json=throwaway)).status_code == 201
    ctx.made["throwaway"] = {"email": throwaway["email"], "password": PASSWORD}
    world.made_login = throwaway["email"]  # type: ignore[attr-defined]
    client = world.people["client"]
    invoice = await eventually(
        lambda: _invoice(full_http, client.h, world.ids["appointment"]),
        timeout=60,
        what="the booking's invoice",
    )
    ids = {PATH: world.ids[name] for PATH, name in PATH_IDS.items() if name in world.ids}
    ids["invoice_id"] = invoice
    ids["invitation_token"] = "no-such-invitation"
    ids["period"] = "2026-01"

    app = full_stack.gateway.server.config.app
    routes = [(m, p, EXPECTATIONS[f"{m} {p}"]) for m, p in all_routes(app.routes)]
    mongo = AsyncMongoClient(full_stack.stack.deps.mongo_uri, tz_aware=True)
    observed: dict[str, dict[str, int]] = {}
    wrong: list[str] = []
    try:
        # Every refused call first, between two digests of every service's database: digesting
        # them costs more than the calls (they hold every test's records by now), so once for
        # all the refusals, not once per route. Refused calls change nothing, so they run a few
        # at a time and before the allowed ones (which only see less state than before: the
        # world as the fixture made it). A change is then traced to its route, one at a time.
        before = await digest(mongo, full_stack)
        await refuse_all(ctx, routes, ids, observed, wrong)
        after = await digest(mongo, full_stack)
        if changed := sorted(k for k in after if before.get(k) != after[k]):
            wrong += await trace_change(ctx, mongo, full_stack, routes, ids, changed)
        for method, path, rule in routes:
            key = f"{method} {path}"
            row = observed.setdefault(key, {})
            for role in [r for r in ROLES if r in rule.allowed]:
                own = dict(ids)
                if rule.fresh is not None:
                    own.update(await rule.fresh(ctx, role))
                r = await call(ctx, method, path, rule, role, own)
                row[role] = r.status_code
                if r.status_code not in rule.ok:
                    wrong.append(f"{key} as {role}: {r.status_code} (expected 2xx) {r.text[:200]}")
    finally:
        await mongo.close()
        for key, row in observed.items():
            print(key, " ".join(f"{role}={row.get(role)}" for role in ROLES))
    assert not wrong, "\n".join(wrong)


# Refused calls in flight at once: they write nothing but bookkeeping (notes' audit chain,
# whose concurrent appends retry), so their order does not matter; a few overlap the services'
# round trips to the database without piling up on two cores.
CONCURRENT_REFUSALS = 4


async def refuse_all(
    ctx: Ctx,
    routes: list[tuple[str, str, Rule]],
    ids: dict[str, str],
    observed: dict[str, dict[str, int]],
    wrong: list[str],
) -> None:
    """Call every route as each role it does not allow; each must be refused."""
    gate = asyncio.Semaphore(CONCURRENT_REFUSALS)

    async def one(method: str, path: str, rule: Rule, role: str) -> None:
        key = f"{method} {path}"
        async with gate:
            r = await call(ctx, method, path, rule, role, ids)
        observed.setdefault(key, {})[role] = r.status_code
        if r.status_code not in rule.refused:
            wrong.append(f"{key} as {role}: {r.status_code} (expected refusal) {r.text[:200]}")

    async with asyncio.TaskGroup() as tg:
        for method, path, rule in routes:
            observed.setdefault(f"{method} {path}", {})
            for role in [r for r in ROLES if r not in rule.allowed]:
                tg.create_task(one(method, path, rule, role))


async def trace_change(
    ctx: Ctx,
    mongo: AsyncMongoClient,
    full_stack: FullStack,
    routes: list[tuple[str, str, Rule]],
    ids: dict[str, str],
    changed: list[str],
) -> list[str]:
    """The refusals changed something: call them again one route at a time, between digests,
    to name the route. A change no single route repeats is still reported."""
    found: list[str] = []
    for method, path, rule in routes:
        outsiders = [r for r in ROLES if r not in rule.allowed]
        if not outsiders:
            continue
        before = await digest(mongo, full_stack)
        for role in outsiders:
            await call(ctx, method, path, rule, role, ids)
        after = await digest(mongo, full_stack)
        if again := sorted(k for k in after if before.get(k) != after[k]):
            found.append(f"{method} {path}: refused calls changed {again}")
    return found or [f"refused calls changed {changed} (no single route did it again)"]


# One horizon for every digest of the run: a document expiring before it (a hold another test
# made, which the TTL sweep may remove between two digests) is in none of them; one expiring
# later cannot be swept while the matrix runs.
TTL_HORIZON = timedelta(minutes=30)
_horizon: list[datetime] = []


async def digest(mongo: AsyncMongoClient, full_stack: FullStack) -> dict:
    """The databases' digest once the platform has settled: effects still on their way from
    earlier calls (an invoice billing writes for a booking) must not look like a refused
    caller's writes."""
    await settled(mongo, full_stack.databases, full_stack.consumers, full_stack.stack.deps.nats_url)
    if not _horizon:
        _horizon.append(datetime.now(UTC) + TTL_HORIZON)
    return await snapshot(mongo, full_stack.databases, BOOKKEEPING, expiring_before=_horizon[0])


async def _invoice(http: httpx.AsyncClient, headers: dict, appointment_id: str) -> str | None:
    r = await http.get("/v1/invoices", headers=headers, params={"limit": 200})
    assert r.status_code == 200, r.text
    return next(
        (i["invoice_id"] for i in r.json()["items"] if i["appointment_id"] == appointment_id),
        None,
    )

"""Signing-key rotation, the daily licence-expiry sweep and licence renewal, on an identity with
a movable clock and a Vault of its own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import ValidationError
from rapport.events.v1 import identity_pb2 as events_pb
from rapport_identity import domain
from rapport_identity.jobs import Periodic, expire_licenses
from rapport_identity.keys import (
    KEY_CACHE_SECONDS,
    MIN_ACTIVATION_SECONDS,
    VERIFIER_JWKS_REFRESH_SECONDS,
    SigningKeys,
)
from rapport_identity.settings import IdentitySettings
from rapport_platform.auth import JwksCache

from tests.identity import operators
from tests.waiting import eventually


def kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


async def jwks_kids(api) -> list[str]:
    r = await api.http.get("/.well-known/jwks.json")
    assert r.status_code == 200
    return [k["kid"] for k in r.json()["keys"]]


def twin(clocked) -> Periodic:
    """A second replica's job runner over the same database and Vault key."""
    p = clocked.periodic
    return Periodic(
        p.store, p.outbox, p.keys, check_every=3600, key_max_age=p.key_max_age, clock=p.now
    )


async def test_operators_rotate_signing_keys(clocked, clocked_api):
    api = clocked_api
    settings = clocked.identity.settings
    operator = await api.register("client")
    bystander = await api.therapist()
    await api.enable_mfa(bystander)
    api.problem(await api.http.post("/v1/ops/signing-keys/rotate", headers=bystander.h), 403)
    await operators.grant(settings, operator.user_id)
    await api.login(operator)
    # Rotation needs an operator signed in with multi-factor.
    r = await api.http.post("/v1/ops/signing-keys/rotate", headers=operator.h)
    assert "multi-factor" in api.problem(r, 403)["detail"]
    await api.enable_mfa(operator)

    before = await jwks_kids(api)
    old_token = operator.access
    assert kid(old_token) == before[-1]
    r = await api.http.post("/v1/ops/signing-keys/rotate", headers=operator.h)
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["kid"] not in before
    assert rotated["published_kids"] == [*before, rotated["kid"]]
    assert await jwks_kids(api) == [*before, rotated["kid"]]

    # Published at once, the new kid signs only after the activation delay (at least the key
    # cache plus the verifiers' JWKS refresh): until then the old kid signs.
    activation = timedelta(seconds=settings.signing_key_activation_seconds)
    assert activation.total_seconds() >= MIN_ACTIVATION_SECONDS
    fresh = await api.register("client")
    clocked.clock.offset = -timedelta(minutes=1)  # surely before the activation
    await api.login(fresh)
    assert kid(fresh.access) == before[-1]
    # Once it is active (identity's clock moved past it) the new kid signs, and verifiers
    # accept its tokens; the tokens the old one signed still work until they expire.
    clocked.clock.offset = activation + timedelta(seconds=1)
    user = domain.User(
        user_id=fresh.user_id,
        email=fresh.email,
        role="client",
        display_name="F",
        jurisdiction="US-CA",
        clinic_id="",
        created_at=datetime.now(UTC),
    )
    # Claims at real time (the verifiers' clock), signed by identity's own keys.
    token = await clocked.periodic.keys.sign(
        domain.access_claims(user, now=datetime.now(UTC), ttl=timedelta(minutes=5))
    )
    clocked.clock.offset = timedelta(0)
    assert kid(token) == rotated["kid"]
    assert (
        await api.http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200
    assert (
        await api.http.get("/v1/me", headers={"Authorization": f"Bearer {old_token}"})
    ).status_code == 200

    # Once every token the old key signed has expired, the JWKS stops publishing it.
    ttl = settings.access_token_ttl_seconds
    clocked.clock.offset = timedelta(seconds=ttl - 60)
    assert await jwks_kids(api) == [*before, rotated["kid"]]
    clocked.clock.offset = (
        timedelta(seconds=ttl + 1) + activation + timedelta(seconds=KEY_CACHE_SECONDS)
    )
    assert await jwks_kids(api) == [rotated["kid"]]


async def test_key_activation_must_outlast_the_key_cache_and_the_jwks_refresh():
    """A replica caches the key for KEY_CACHE_SECONDS and a verifier refetches the JWKS at most
    every VERIFIER_JWKS_REFRESH_SECONDS: a shorter activation could sign with a kid another
    replica's GetJwks does not publish yet, or that a verifier may not fetch yet."""
    # What a verifier really does: after a fetch, an unknown kid waits for the refresh interval.
    now = [1000.0]
    fetches: list[float] = []

    async def fetch() -> list[dict]:
        fetches.append(now[0])
        return []

    cache = JwksCache(fetch, clock=lambda: now[0])  # the verifiers' default interval
    await cache.key("v1")
    assert fetches == [1000.0]
    now[0] += VERIFIER_JWKS_REFRESH_SECONDS - 0.001
    await cache.key("v2")
    assert fetches == [1000.0]  # too soon: a kid activated now could not be fetched yet
    now[0] += 0.001
    await cache.key("v2")
    assert len(fetches) == 2
    # What a signing replica really does: it reuses its key read for KEY_CACHE_SECONDS.
    keys = SigningKeys(vault=None, name="k", token_ttl=timedelta(minutes=15))  # type: ignore[arg-type]
    assert keys._cache_s == KEY_CACHE_SECONDS
    # The settings refuse an activation shorter than the two together (10 s, as documented).
    shortest = KEY_CACHE_SECONDS + VERIFIER_JWKS_REFRESH_SECONDS
    assert shortest == 10
    base = {"grpc_port": 50051, "vault_token": "t"}
    with pytest.raises(ValidationError, match="signing_key_activation_seconds"):
        IdentitySettings(**base, signing_key_activation_seconds=int(shortest) - 1)
    assert IdentitySettings(**base, signing_key_activation_seconds=int(shortest))
    assert IdentitySettings(**base).signing_key_activation_seconds >= shortest


async def test_periodic_rotation_happens_once_across_replicas(clocked):
    keys = clocked.periodic.keys
    version, _ = await keys.latest()
    # Nothing is due while the key is young.
    assert await clocked.periodic.rotate_if_due() is None
    clocked.clock.offset = timedelta(days=clocked.identity.settings.signing_key_rotation_days)
    try:
        results = await asyncio.gather(
            clocked.periodic.rotate_if_due(), twin(clocked).rotate_if_due()
        )
    finally:
        clocked.clock.offset = timedelta(0)
    assert sorted(r is None for r in results) == [False, True]
    assert (await keys.latest())[0] == version + 1
    assert keys.kid(version + 1) in results


async def expired_events(db, license_id: str) -> list:
    found = []
    async for doc in db["outbox"].find({"subject": "rapport.identity.license_expired"}):
        event = events_pb.LicenseExpired.FromString(bytes(doc["data"]))
        if event.license_id == license_id:
            found.append((event, doc))
    return found


async def test_daily_sweep_expires_a_licence_once_and_eligibility_follows(
    clocked, clocked_api, clocked_db
):
    api = clocked_api
    admin = await api.admin()
    therapist = await api.therapist()
    r = await api.http.post(
        f"/v1/clinics/{admin.clinic_id}/invitations",
        headers=admin.h,
        json={"email": therapist.email},
    )
    token = r.json()["invitation_token"]
    assert (await api.http.post(f"/v1/invitations/{token}/accept", headers=therapist.h)).is_success
    await api.login(therapist)
    assert (await api.put_profile(therapist)).status_code == 200
    url = f"/v1/therapists/{therapist.user_id}/eligibility"
    with clocked.clock.at_midday() as today:
        lic = await api.add_license(therapist, "US-WA", expires_on=today.isoformat(), number="WA-1")
        assert (await api.verify(admin, therapist, lic["license_id"])).status_code == 200
        r = await api.http.get(url, params={"jurisdiction": "US-WA"}, headers=therapist.h)
        assert r.json()["eligible"] is True  # valid through its expiry day

    # The next day, two replicas wake up at once: one sweeps, the other finds it taken.
    with clocked.clock.at_midday(today + timedelta(days=1)):
        results = await asyncio.gather(
            clocked.periodic.sweep_if_due(), twin(clocked).sweep_if_due()
        )
        assert sorted(r is None for r in results) == [False, True]
        assert await clocked.periodic.sweep_if_due() is None  # done for that day
        # Even two sweeps forced to run together record one event per licence.
        p = clocked.periodic
        marked = await asyncio.gather(
            expire_licenses(p.store, p.outbox, now=p.now()),
            expire_licenses(p.store, p.outbox, now=p.now()),
        )
        assert marked == [0, 0]

    events = await expired_events(clocked_db, lic["license_id"])
    assert len(events) == 1
    event, doc = events[0]
    assert (event.therapist_id, event.clinic_id, event.jurisdiction, event.expires_on) == (
        therapist.user_id,
        admin.clinic_id,
        "US-WA",
        today.isoformat(),
    )
    assert therapist.email not in str(doc)

    async def published() -> bool:
        return bool((await clocked_db["outbox"].find_one({"_id": doc["_id"]})).get("published_at"))

    await eventually(published, what="license_expired relayed to NATS")

    r = await api.http.get(url, params={"jurisdiction": "US-WA"}, headers=therapist.h)
    assert r.json()["eligible"] is False and r.json()["reason"] == "license_expired"
    r = await api.http.get(f"/v1/therapists/{therapist.user_id}/licenses", headers=admin.h)
    assert [x["status"] for x in r.json()["items"]] == ["expired"]
    r = await api.http.get("/v1/therapists", params={"jurisdiction": "US-WA", "limit": 100})
    assert therapist.user_id not in [i["therapist_id"] for i in r.json()["items"]]
    # An expired licence cannot be verified again.
    api.problem(await api.verify(admin, therapist, lic["license_id"]), 409)


async def test_an_expired_licence_can_be_renewed(clocked, clocked_api, clocked_db):
    """The same licence (kind, jurisdiction, number) can be added again once it has expired,
    whether or not the daily sweep has marked it yet; while it is current, it cannot."""
    api = clocked_api
    admin = await api.admin()
    therapist = await api.therapist()
    await api.invite(admin, therapist)
    url = f"/v1/therapists/{therapist.user_id}/licenses"
    with clocked.clock.at_midday() as today:
        lapsing = {"kind": "lcsw", "number": "LCSW-42", "expires_on": today.isoformat()}
        swept = await api.add_license(therapist, "US-ID", **lapsing)
        unswept = await api.add_license(therapist, "US-OR", **lapsing)
        for lic in (swept, unswept):
            assert (await api.verify(admin, therapist, lic["license_id"])).status_code == 200
            renewal = {**lapsing, "jurisdiction": lic["jurisdiction"], "expires_on": api.FUTURE}
            api.problem(await api.http.post(url, headers=therapist.h, json=renewal), 409)

    with clocked.clock.at_midday(today + timedelta(days=1)):  # both have lapsed now
        p = clocked.periodic
        # The sweep marks the Idaho licence only (the Oregon one is left for the renewal).
        await clocked_db.licenses.update_one(
            {"_id": unswept["license_id"]}, {"$set": {"expires_on": api.FUTURE}}
        )
        await expire_licenses(p.store, p.outbox, now=p.now())
        marked = {
            d["_id"]: d["expired_at"] is not None
            async for d in clocked_db.licenses.find(
                {"_id": {"$in": [swept["license_id"], unswept["license_id"]]}}
            )
        }
        assert marked == {swept["license_id"]: True, unswept["license_id"]: False}
        await clocked_db.licenses.update_one(
            {"_id": unswept["license_id"]}, {"$set": {"expires_on": today.isoformat()}}
        )
        renewed = {}
        for lic in (swept, unswept):
            renewal = {**lapsing, "jurisdiction": lic["jurisdiction"], "expires_on": api.FUTURE}
            r = await api.http.post(url, headers=therapist.h, json=renewal)
            assert r.status_code == 201, r.text
            renewed[lic["license_id"]] = r.json()
        # The renewal is the current record now: a third copy is refused.
        again = {**lapsing, "jurisdiction": "US-OR", "expires_on": api.FUTURE}
        api.problem(await api.http.post(url, headers=therapist.h, json=again), 409)
        # A later sweep finds nothing left to mark for them.
        await expire_licenses(p.store, p.outbox, now=p.now())

    for lic in (swept, unswept):
        new = renewed[lic["license_id"]]
        assert new["license_id"] != lic["license_id"] and new["status"] == "pending"
        old = await clocked_db.licenses.find_one({"_id": lic["license_id"]})
        assert old["expired_at"] is not None
        # Each lapsed record announced its expiry exactly once, by the sweep or by the renewal.
        assert len(await expired_events(clocked_db, lic["license_id"])) == 1
    r = await api.http.get(url, headers=therapist.h)
    statuses = sorted((x["jurisdiction"], x["status"]) for x in r.json()["items"])
    assert statuses == [
        ("US-ID", "expired"),
        ("US-ID", "pending"),
        ("US-OR", "expired"),
        ("US-OR", "pending"),
    ]
